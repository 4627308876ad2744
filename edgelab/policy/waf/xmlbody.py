"""XML request bodies as fields the WAF's argument rules read (ModSecurity's XML body processor).

    is_xml("text/xml; charset=utf-8")                         # True (also */*+xml)
    fields, error = xml_fields(b'<order id="7"><note>hi &amp; bye</note></order>', False)
    # fields == [("order@id", "7"), ("order.note", "hi & bye")], error is None

ModSecurity parses a `Content-Type: */xml` body with libxml2 and the OWASP CRS runs its rules
on the text (`XML:/*`); CRS rule 200002 refuses a body its processor could not parse. This
does the same with Python's expat, safely:

- nothing is fetched or expanded: no external entity or DTD is ever loaded (pyexpat has no
  loader, and parameter-entity parsing is off), and internal entity references are not
  expanded either (a default handler is set, which makes expat pass `&name;` through as
  text), so a "billion laughs" document costs its own size;
- text (CDATA included, character and predefined references decoded) and attribute values
  become fields named by their element path (`order.note`, `order@id`), as JSON leaves are
  (`edgelab.policy.waf.request`), so the SQLi/XSS/RCE rules on `args` read them;
- what the argument rules must still see of the markup is kept as fields too: each entity
  declaration (`xml:entity`, rebuilt: `<!ENTITY xxe SYSTEM "file:///etc/passwd">`), a DOCTYPE
  with an external DTD (`xml:doctype`) and each processing instruction (`xml:pi`: `<?php
  ...?>`), for the XXE and code-injection rules;
- a document that is not well-formed gives no fields and an error (the raw `body` target
  then sees it whole, and the `reqbody_error` target carries the message), except when the
  body was cut at the inspection limit: a prefix of a good document is not malformed;
- elements nested deeper than MAX_XML_DEPTH are an error too, cut or not.
"""

from __future__ import annotations

from xml.parsers import expat

MAX_XML_FIELDS = 1024
"""Fields taken from one document at most (as for JSON); parsing stops there."""


def is_xml(ctype: str) -> bool:
    """Whether a lowercased Content-Type names XML: `*/xml` or `*/*+xml` (text/xml,
    application/soap+xml, image/svg+xml...), the types CRS hands to the XML processor."""
    media = ctype.partition(";")[0].strip()
    return media.endswith("/xml") or media.endswith("+xml")


MAX_XML_DEPTH = 256
"""Elements nested deeper than this are refused (an error), as libxml2 refuses them unless told
otherwise, and so ModSecurity: no document a site takes nests so deep, and the path of every
element was once joined anew, so 128 KiB of `<a>` cost 12.6 s of CPU."""


class _Full(Exception):
    """The field limit reached: stop parsing, keep what was found."""


class _TooDeep(Exception):
    """MAX_XML_DEPTH exceeded: stop parsing, an error."""


def xml_fields(
    body: bytes, truncated: bool, limit: int = MAX_XML_FIELDS
) -> tuple[list[tuple[str, str]], str | None]:
    """The fields of an XML document (at most `limit`), and the parse error (None when
    well-formed, or when `truncated` says the body is only the start of one)."""
    out: list[tuple[str, str]] = []
    path: list[str] = []
    texts: list[list[str]] = []

    def add(name: str, value: str) -> None:
        out.append((name, value))
        if len(out) >= limit:
            raise _Full

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(path) >= MAX_XML_DEPTH:
            raise _TooDeep
        path.append(name)
        texts.append([])
        if attrs:  # (the path is joined only for a field: most elements make none)
            where = ".".join(path)
            for k, v in attrs.items():
                add(f"{where}@{k}", v)

    def end(name: str) -> None:
        text = "".join(texts.pop()).strip()
        if text:
            add(".".join(path), text)
        path.pop()

    def chars(data: str) -> None:
        if texts:
            texts[-1].append(data)

    def entity(
        name: str,
        is_param: int,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        decl = f"<!ENTITY {'% ' if is_param else ''}{name}"
        if public_id is not None:
            decl += f' PUBLIC "{public_id}"'
        if system_id is not None:
            decl += f' {"" if public_id is not None else "SYSTEM "}"{system_id}"'
        if value is not None:
            decl += f' "{value}"'
        add("xml:entity", decl + (f" NDATA {notation}>" if notation else ">"))

    def doctype(name: str, system_id: str | None, public_id: str | None, internal: int) -> None:
        if system_id is not None:
            kind = f'PUBLIC "{public_id}"' if public_id is not None else "SYSTEM"
            add("xml:doctype", f'<!DOCTYPE {name} {kind} "{system_id}">')

    def pi(target: str, data: str) -> None:
        add("xml:pi", f"<?{target} {data}?>")

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = entity
    parser.StartDoctypeDeclHandler = doctype
    parser.ProcessingInstructionHandler = pi
    parser.DefaultHandler = _ignore  # turns off the expansion of internal entities
    try:
        parser.Parse(body, True)
    except _Full:
        pass
    except _TooDeep:
        return out, f"XML: elements nested deeper than {MAX_XML_DEPTH} levels"
    except expat.ExpatError as e:
        if not truncated:
            return [], f"XML: {expat.ErrorString(e.code)} at line {e.lineno}, column {e.offset}"
        while texts and len(out) < limit:  # the open elements' text so far
            text = "".join(texts.pop()).strip()
            if text:
                out.append((".".join(path), text))
            path.pop()
    return out, None


def _ignore(data: str) -> None:
    """Markup expat passes through unparsed (unexpanded `&name;` references among it)."""
