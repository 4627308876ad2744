"""What the WAF sees of a request, and the named targets rules inspect (ModSecurity's variables).

    req = WafRequest.build("POST", "/login", "next=%2F", {"Cookie": "sid=1"}, body=b"user=a")
    req.values("args")          # [("args:next", "/"), ("args:user", "a")]
    req.values("header:cookie") # [("header:cookie", "sid=1")]

Collections are computed on first use and kept for the request, so a GET never parses a body and
twenty rules on `args` parse the query once. Names are decoded once (as ModSecurity's ARGS are);
rules add `url_decode` to see through double encoding.

Targets: `method`, `path` (raw, as sent), `uri` (path and query, raw), `query` (raw),
`args` / `args_names` (query, then form or JSON body fields), `query_args`, `body_args`,
`headers` / `header_names` / `header:<name>`, `cookies` / `cookie_names`, `files` (the file names
of a multipart body's uploads, `files:<field>`; their contents are files, not fields, as in
ModSecurity's FILES), `body` (raw, up to the inspection limit, when no body parser made fields of
it), `reqbody_error` (why a body parser refused the body: malformed XML; see
`edgelab.policy.waf.xmlbody`), `ip`; `count:<target>` is the number of values of a target ("0"
when absent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from edgelab.policy.waf.transforms import unquote_plus
from edgelab.policy.waf.xmlbody import is_xml, xml_fields

Value = tuple[str, str]
"""(where it came from, e.g. `args:id`, the value)."""

_SIMPLE: Final = ("method", "path", "uri", "query", "body", "reqbody_error", "ip")
_COLLECTIONS: Final = (
    "args",
    "args_names",
    "query_args",
    "body_args",
    "headers",
    "header_names",
    "cookies",
    "cookie_names",
    "files",
)
MAX_BODY_FIELDS: Final = 1024
"""A body with more fields than this (form, multipart, JSON leaves, XML) is a body error
(`reqbody_error`: the first ones are read), as ModSecurity's SecArgumentsLimit and PHP's
max_input_vars (1000) bound them: without a bound one 128 KiB form of 20,000 fields cost
~130 ms of CPU, and a bound without an error would hide the fields past it from the rules."""
TOO_MANY_FIELDS: Final = f"more than {MAX_BODY_FIELDS} fields in the body"
MAX_JSON_DEPTH: Final = 512
"""JSON nested deeper than this is refused (`reqbody_error`), as ModSecurity's
SecRequestBodyJsonDepthLimit refuses it (512 in its recommended configuration): no API nests so
deep, and Python's own parser raises RecursionError near 1,000 levels (which was a 500 here)."""
JSON_TOO_DEEP: Final = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


def is_target(name: str) -> bool:
    """Whether `name` is a target rules may name (used to validate rule files)."""
    name = name.removeprefix("count:")
    if name.startswith("header:"):
        return len(name) > len("header:")
    return name in _SIMPLE or name in _COLLECTIONS


@dataclass
class WafRequest:
    """One request's inspectable parts; `body` is what was buffered (None before phase 2)."""

    method: str
    path: str
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    client_ip: str = ""
    body: bytes | None = None
    body_truncated: bool = False
    """True when the body was longer than the inspection limit and `body` is its start."""
    _cache: dict[str, list[Value]] = field(default_factory=dict, repr=False)
    """Values per target (`args`), and per target and chain (`args\x01lowercase`)."""
    scans: dict[str, dict[int, list[Value]]] = field(default_factory=dict, repr=False)
    """Regex hits per scan index (`edgelab.policy.waf.scan`): pattern id -> where it matched."""
    pending: dict[str, frozenset[int]] = field(default_factory=dict, repr=False)
    """Per scan index, patterns its scan reported but left to confirm on demand."""
    memo: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    """Transformation results for this request: (transform, value) -> result."""
    _headers_by_name: dict[str, list[str]] | None = field(default=None, repr=False)
    _head_is_ascii: bool | None = field(default=None, repr=False)
    _headers_lowered: list[tuple[str, str]] | None = field(default=None, repr=False)
    _body_error: str | None = field(default=None, repr=False)
    """Why the body parser refused the body (malformed XML), once `body_args` was taken."""
    _files: list[tuple[str, str]] | None = field(default=None, repr=False)
    """A multipart body's uploads, (field name, file name), once `body_args` was taken."""

    def __init__(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
        client_ip: str = "",
        body: bytes | None = None,
        body_truncated: bool = False,
    ) -> None:
        """The fields above, as the dataclass would set them. Written out because the
        compiled build runs a generated dataclass `__init__` as interpreted Python (several
        microseconds of every request); this one is compiled."""
        self.method = method
        self.path = path
        self.query = query
        self.headers = [] if headers is None else headers
        self.client_ip = client_ip
        self.body = body
        self.body_truncated = body_truncated
        self._cache = {}
        self.scans = {}
        self.pending = {}
        self.memo = {}
        self._headers_by_name = None
        self._head_is_ascii = None
        self._headers_lowered = None
        self._body_error = None
        self._files = None

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        client_ip: str = "",
        body: bytes | None = None,
    ) -> WafRequest:
        if isinstance(headers, list):
            items = list(headers)  # (the stage's: an ABC check cost more than all the rest)
        else:
            items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        return WafRequest(method, path, query, items, client_ip, body)  # a native call

    def set_body(self, body: bytes, truncated: bool) -> None:
        """Phase 2: the buffered body arrived; body-derived collections are recomputed."""
        self.body, self.body_truncated = body, truncated
        self._body_error = self._files = None
        self.scans.clear()  # regex hits found before the body was there
        self.pending.clear()
        for key in [k for k in self._cache if _target_of(k) in _FROM_BODY]:
            del self._cache[key]

    def header(self, name: str) -> str | None:
        found = self._by_name().get(name.lower())
        return found[0] if found else None

    def _by_name(self) -> dict[str, list[str]]:
        """Header values by lowercased name, built once (most rules name headers)."""
        by_name = self._headers_by_name
        if by_name is None:
            lowered = self._lowered()
            by_name = {k: [v] for k, v in lowered}  # (no lookup per name: names rarely repeat)
            if len(by_name) < len(lowered):  # a name sent more than once: all its values
                by_name = {}
                for k, v in lowered:
                    found = by_name.get(k)  # not setdefault: compiled, a miss raises KeyError
                    if found is None:
                        by_name[k] = [v]
                    else:
                        found.append(v)
            self._headers_by_name = by_name
        return by_name

    def _lowered(self) -> list[tuple[str, str]]:
        """The headers with lowercased names, in order (lowercased once per request)."""
        lowered = self._headers_lowered
        if lowered is None:
            lowered = self._headers_lowered = [(k.lower(), v) for k, v in self.headers]
        return lowered

    def values(self, target: str) -> list[Value]:
        """The values of `target` in this request (empty when it has none)."""
        cached = self._cache.get(target)
        if cached is None:
            extract, arg, source = _PLANS.get(target) or _plan(target)
            cached = extract(self, arg)
            if source is _HEAD and not self._ascii_head():
                for _, v in cached:
                    if not v.isascii():
                        cached = [(w, _valid(v)) for w, v in cached]
                        break
            self._cache[target] = cached
        return cached

    def _ascii_head(self) -> bool:
        """Whether the request line and headers are plain ASCII (almost always), so no value
        taken from them can carry a lone surrogate: they need no check one by one."""
        ascii_head = self._head_is_ascii
        if ascii_head is None:
            ascii_head = self._head_is_ascii = (
                self.path.isascii()
                and self.query.isascii()
                and "".join([v for _, v in self.headers]).isascii()
            )
        return ascii_head

    def _raw_body(self) -> list[Value]:
        # The raw body, for bodies no parser turned into fields: a form, JSON or multipart
        # body is inspected through its fields (`args`), as ModSecurity's body processors
        # do, instead of scanning the same bytes twice.
        if not self.body or self.values("body_args") or self._files:
            return []
        return [("body", _text(self.body))]

    def _uploads(self) -> list[Value]:
        if not self.body:
            return []
        self.values("body_args")  # the parse that finds them
        return [(f"files:{k}", v) for k, v in self._files or ()]

    def _reqbody_error(self) -> list[Value]:
        self.values("body_args")  # the parse that may have failed
        return [("reqbody_error", self._body_error)] if self._body_error else []

    def _cookies(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for header in self._by_name().get("cookie", ()):
            for part in header.split(";"):
                name, sep, value = part.strip().partition("=")
                if name or sep:
                    out.append((name, value))
        return out

    def _body_fields(self) -> list[tuple[str, str]]:
        """The body's fields, at most MAX_BODY_FIELDS of them (more is a body error)."""
        fields = self._parsed_body_fields()
        if len(fields) > MAX_BODY_FIELDS:
            del fields[MAX_BODY_FIELDS:]
            self._body_error = self._body_error or TOO_MANY_FIELDS
        return fields

    def _parsed_body_fields(self) -> list[tuple[str, str]]:
        if not self.body:
            return []
        raw_ctype = self.header("content-type") or ""
        ctype = raw_ctype.lower()
        if ctype.startswith("multipart/form-data"):
            fields, self._files = _multipart(self.body, raw_ctype)  # the boundary's case counts
            return fields
        sniffed = ctype
        if not ("json" in sniffed or "x-www-form-urlencoded" in sniffed):
            if "xml" in ctype and is_xml(ctype):
                fields, self._body_error = xml_fields(
                    self.body, self.body_truncated, MAX_BODY_FIELDS + 1
                )
                return fields
            # A wrong or missing Content-Type must not hide the fields from the rules (an
            # evasion): read what the body looks like, as the origin's framework might.
            head = self.body.lstrip()[:1]
            if head in (b"{", b"["):
                sniffed = "json"
            elif b"=" in self.body and not _WHITESPACE.search(self.body):
                sniffed = "x-www-form-urlencoded"  # `a=1&b=2`: forms never carry raw spaces
        if "json" in sniffed:
            try:
                doc = json.loads(self.body)
            except RecursionError:  # `[[[[...`: Python's parser gives up near 1,000 levels
                self._body_error = JSON_TOO_DEEP
                return []
            except ValueError:
                return []  # not JSON after all (or cut at the limit): the raw body rules apply
            out: list[tuple[str, str]] = []
            if not _flatten(doc, [], out, MAX_JSON_DEPTH):
                self._body_error = JSON_TOO_DEEP
            return out
        if "x-www-form-urlencoded" in sniffed:
            return _parse_form(self.body)
        return []


_FROM_BODY: Final = frozenset({"body", "args", "args_names", "body_args", "reqbody_error", "files"})
"""Targets whose values change when the body arrives."""


def _target_of(key: str) -> str:
    """The target a cache key holds values of (`count:args` and `args\x01trim` are `args`)."""
    return key.partition("\x01")[0].removeprefix("count:")


def _valid(value: str) -> str:
    """`value` without lone surrogates (U+FFFD instead): aiohttp keeps undecodable header bytes
    as surrogate escapes and JSON may spell `\\ud800`, and neither RE2 nor libinjection takes
    text that is not valid UTF-8 (a client must not be able to make the WAF raise)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _parse_qs(qs: str) -> list[tuple[str, str]]:
    """`parse_qsl(qs, keep_blank_values=True, errors="replace")`, several times faster on the
    usual values that need no decoding (tests compare the two). Each `&` and `=` is found with
    `find` (a `memchr`): `split` compares every character in a loop of its own, which cost a
    64 KiB form ~0.4M instructions, and the names and values are sliced out once."""
    out: list[tuple[str, str]] = []
    end = len(qs)
    start = 0
    while start < end:
        amp = qs.find("&", start)
        if amp < 0:
            amp = end
        if amp > start:
            eq = qs.find("=", start, amp)
            if eq < 0:
                out.append((unquote_plus(qs[start:amp]), ""))
            else:
                out.append((unquote_plus(qs[start:eq]), unquote_plus(qs[eq + 1 : amp])))
        start = amp + 1
    return out


def _parse_form(body: bytes) -> list[tuple[str, str]]:
    """`_parse_qs(_text(body))`: the `+`s made spaces in the whole body at once, before it is
    decoded (a `+` byte is never part of an invalid UTF-8 sequence that decoding replaces),
    so a form's fields (a space is a `+` in each) need no replacing one by one (yarl's
    unquoter replaces them with a `str.replace` of its own first, which cost more)."""
    return _parse_qs(_text(body.replace(b"+", b" ")))


_PART_NAME: Final = re.compile(rb'[\s;]name="([^"]*)"')
_PART_FILENAME: Final = re.compile(rb'filename="([^"]*)"')
_WHITESPACE: Final = re.compile(rb"\s")


def _multipart(body: bytes, ctype: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A multipart/form-data body's fields, (name, content) per part, and its uploads, (name,
    file name) per part with a `filename`: an upload's content is a file (an image, a PDF, a
    page or a script someone shares), which ModSecurity and the CRS keep out of ARGS too; the
    rules read its name (`files`)."""
    _, _, boundary = ctype.replace("Boundary=", "boundary=").partition("boundary=")
    boundary = boundary.split(";")[0].strip().strip('"')
    if not boundary:
        return [], []
    out: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        m = _PART_NAME.search(head)
        name = _text(m.group(1)) if m else ""
        f = _PART_FILENAME.search(head)
        if f:
            files.append((name, _text(f.group(1))))
        else:
            out.append((name, _text(content.removesuffix(b"\r\n"))))
    return out, files


def _flatten(doc: Any, path: list[str], out: list[tuple[str, str]], depth: int) -> bool:
    """JSON leaves as (dotted.path, text); keys are values too (`{"<script>": 1}` is an attack).
    False if the document nests deeper than `depth` levels (what is above them is kept). The
    path is joined at leaves only, so long keys above many empty arrays cost nothing more."""
    if len(out) > MAX_BODY_FIELDS:
        return True  # (one more than the bound: `_body_fields` tells the error)
    if isinstance(doc, dict):
        if depth == 0:
            return False
        for k, v in doc.items():
            path.append(_valid(str(k)))  # json.loads keeps a lone `\ud800` escape as it is
            deep_enough = _flatten(v, path, out, depth - 1)
            path.pop()
            if not deep_enough:
                return False
    elif isinstance(doc, list):
        if depth == 0:
            return False
        for i, v in enumerate(doc):
            path.append(str(i))
            deep_enough = _flatten(v, path, out, depth - 1)
            path.pop()
            if not deep_enough:
                return False
    elif isinstance(doc, str):
        out.append((".".join(path), _valid(doc)))
    else:  # numbers, booleans and null: `{"pass": {"$ne": null}}` must show its `pass.$ne`
        out.append((".".join(path), json.dumps(doc)))
    return True


_HEAD: Final = "head"
_BODY: Final = "body"
_MADE: Final = "made"
"""Where a target's values come from: the request head (checked for lone surrogates only when
the head is not plain ASCII: aiohttp keeps undecodable bytes as surrogate escapes), the body, or
other targets' values and numbers. Values from the body need no check one by one (it cost the
64 KiB form ~0.5 ms): the body is decoded with `errors="replace"` (raw, form and multipart
fields; `unquote_plus` decodes with "replace" too), expat refuses characters that are not
text, and the JSON reader makes keys and strings valid (`_flatten`)."""
Extract = Callable[[WafRequest, str], list[Value]]

_PLANS: Final[dict[str, tuple[Extract, str, str]]] = {
    "headers": (lambda r, _: [("header:" + k, v) for k, v in r._lowered()], "", _HEAD),
    "header_names": (lambda r, _: [("header_names", k) for k, _ in r.headers], "", _HEAD),
    "method": (lambda r, _: [("method", r.method)], "", _HEAD),
    "path": (lambda r, _: [("path", r.path)], "", _HEAD),
    "uri": (lambda r, _: [("uri", f"{r.path}?{r.query}" if r.query else r.path)], "", _HEAD),
    "query": (lambda r, _: [("query", r.query)] if r.query else [], "", _HEAD),
    "ip": (lambda r, _: [("ip", r.client_ip)] if r.client_ip else [], "", _HEAD),
    "query_args": (lambda r, _: [(f"args:{k}", v) for k, v in _parse_qs(r.query)], "", _HEAD),
    "cookies": (lambda r, _: [(f"cookies:{k}", v) for k, v in r._cookies()], "", _HEAD),
    "cookie_names": (lambda r, _: [("cookie_names", k) for k, _ in r._cookies()], "", _HEAD),
    "body": (lambda r, _: r._raw_body(), "", _BODY),
    "reqbody_error": (lambda r, _: r._reqbody_error(), "", _MADE),
    "files": (lambda r, _: r._uploads(), "", _BODY),
    "body_args": (lambda r, _: [(f"args:{k}", v) for k, v in r._body_fields()], "", _BODY),
    "args": (lambda r, _: r.values("query_args") + r.values("body_args"), "", _MADE),
    "args_names": (
        lambda r, _: [("args_names", name[5:]) for name, _ in r.values("args")],
        "",
        _MADE,
    ),
}
"""How each target is taken from a request: (extractor, its argument, where values come from)."""


def _plan(target: str) -> tuple[Extract, str, str]:
    """The plan of a parameterised target (`header:<name>`, `count:<target>`), kept once made;
    raises KeyError for a target no rule may name (rules are validated on load)."""
    if target.startswith("header:"):
        name = target[7:].lower()
        plan: tuple[Extract, str, str] = (
            lambda r, t: [(t, v) for v in r._by_name().get(name, ())],
            target,
            _HEAD,
        )
    elif target.startswith("count:"):
        plan = (lambda r, t: [(t, str(len(r.values(t[6:]))))], target, _MADE)
    else:
        raise KeyError(target)
    _PLANS[target] = plan
    return plan
