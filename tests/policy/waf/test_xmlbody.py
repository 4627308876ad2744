"""The XML body processor: fields from text and attributes, declarations kept, nothing
expanded or fetched, malformed documents reported (and truncated ones not)."""

from __future__ import annotations

import pytest

from edgelab.policy.waf.engine import EngineOptions, WafEngine
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import load_default_ruleset
from edgelab.policy.waf.xmlbody import MAX_XML_DEPTH, MAX_XML_FIELDS, is_xml, xml_fields


@pytest.mark.parametrize(
    ("ctype", "xml"),
    [
        ("application/xml", True),
        ("text/xml; charset=utf-8", True),
        ("application/soap+xml; action=x", True),
        ("image/svg+xml", True),
        ("application/json", False),
        ("text/plain; note=xml", False),
        ("application/xml-dtd-ish", False),
    ],
)
def test_is_xml(ctype: str, xml: bool) -> None:
    assert is_xml(ctype) is xml


def test_text_cdata_and_attributes_become_fields_by_element_path() -> None:
    body = (
        b'<?xml version="1.0"?><order id="7"><note>O&apos;Brien &amp; Sons</note>'
        b"<item sku='A-1'><![CDATA[<b>bold</b>]]> and &#65;</item><empty/></order>"
    )
    assert xml_fields(body, truncated=False) == (
        [
            ("order@id", "7"),
            ("order.note", "O'Brien & Sons"),
            ("order.item@sku", "A-1"),
            ("order.item", "<b>bold</b> and A"),
        ],
        None,
    )


def test_declarations_are_kept_and_nothing_is_expanded_or_fetched() -> None:
    laughs = b'<!DOCTYPE l [<!ENTITY a "ha">' + b"".join(
        b'<!ENTITY a%d "%s">' % (i, b"&a;" * 10 if i == 0 else b"&a%d;" % (i - 1) * 10)
        for i in range(9)
    )
    body = laughs + b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]><l>&a8;&xxe;<?php id ?></l>'
    fields, error = xml_fields(body, truncated=False)
    assert error is None
    assert ("xml:entity", '<!ENTITY xxe SYSTEM "file:///etc/passwd">') in fields
    assert ("xml:entity", '<!ENTITY a "ha">') in fields
    assert ("xml:pi", "<?php id ?>") in fields
    assert sum(len(v) for _, v in fields) < 2 * len(body)  # 10^9 "ha"s were not made
    assert not any("root:" in v for _, v in fields)


def test_an_external_dtd_is_kept_with_its_identifiers() -> None:
    body = b'<!DOCTYPE x SYSTEM "http://203.0.113.9/e.dtd"><x/>'
    assert xml_fields(body, truncated=False) == (
        [("xml:doctype", '<!DOCTYPE x SYSTEM "http://203.0.113.9/e.dtd">')],
        None,
    )


def test_malformed_is_an_error_but_a_truncated_prefix_is_not() -> None:
    fields, error = xml_fields(b"<a>1</a><b>", truncated=False)
    assert fields == [] and error is not None and "junk after document element" in error
    fields, error = xml_fields(b"<a><b>x</b><c>partial te", truncated=True)
    assert error is None and fields == [("a.b", "x"), ("a.c", "partial te")]


@pytest.mark.parametrize("truncated", [False, True])
def test_nesting_deeper_than_the_limit_is_an_error_cut_or_not(truncated: bool) -> None:
    """128 KiB of `<a>` once cost 12.6 s of CPU (every element's path joined anew)."""
    ok = (
        b'<a x="1">' + b"<a>" * (MAX_XML_DEPTH - 2) + b"<b>deep</b>" + b"</a>" * (MAX_XML_DEPTH - 1)
    )
    fields, error = xml_fields(ok, truncated=False)
    assert error is None and fields[0] == ("a@x", "1")
    assert fields[1] == (".".join(["a"] * (MAX_XML_DEPTH - 1) + ["b"]), "deep")
    too_deep = b'<a x="1">' + b"<a>" * 43_000
    fields, error = xml_fields(too_deep if truncated else too_deep + b"</a>" * 43_001, truncated)
    assert fields == [("a@x", "1")]  # what was read before the limit
    assert error == f"XML: elements nested deeper than {MAX_XML_DEPTH} levels"


def test_fields_stop_at_the_limit() -> None:
    body = b"<a>" + b"<b>x</b>" * (MAX_XML_FIELDS + 50) + b"</a>"
    fields, error = xml_fields(body, truncated=False)
    assert len(fields) == MAX_XML_FIELDS and error is None


def test_the_request_reads_an_xml_body_as_args_and_reports_a_malformed_one() -> None:
    req = WafRequest.build("POST", "/soap", headers={"Content-Type": "text/xml; charset=utf-8"})
    req.set_body(b"<q><id>1 union select 1</id></q>", truncated=False)
    assert req.values("args") == [("args:q.id", "1 union select 1")]
    assert req.values("body") == [] and req.values("reqbody_error") == []
    req.set_body(b"<q><id>1</q>", truncated=False)
    assert req.values("args") == []
    assert req.values("body") == [("body", "<q><id>1</q>")]  # the raw rules read it whole
    assert req.values("reqbody_error")[0][1].startswith("XML: mismatched tag")
    req.set_body(b"<q><id>1</q>", truncated=True)
    assert req.values("reqbody_error") == []


def test_other_bodies_are_not_parsed_as_xml() -> None:
    req = WafRequest.build("POST", "/", headers={"Content-Type": "text/plain"})
    req.set_body(b"<q><id>1</q>", truncated=False)
    assert req.values("body") == [("body", "<q><id>1</q>")]
    assert req.values("reqbody_error") == []


@pytest.mark.parametrize("regex_engine", ["re", "re2"])
@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"<c><t><![CDATA[<script>alert(1)</script>]]></t></c>", 941110),
        (b'<c><a href="javascript:alert(document.cookie)"/></c>', 941130),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://203.0.113.9/">]><x>&e;</x>', 930140),
        (b"<c><t>1</t></c><junk>", 200002),
    ],
)
def test_the_rules_read_what_the_xml_processor_found(
    regex_engine: str, body: bytes, rule: int
) -> None:
    waf = WafEngine(load_default_ruleset(), EngineOptions(regex_engine=regex_engine))  # type: ignore[arg-type]
    req = WafRequest.build("POST", "/api", headers={"Content-Type": "application/xml"})
    req.set_body(body, truncated=False)
    verdict = waf.evaluate(req, "body", 0.0)
    assert verdict.blocked and rule in {m.rule_id for m in verdict.matches}
