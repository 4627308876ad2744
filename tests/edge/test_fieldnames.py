from __future__ import annotations

from multidict import CIMultiDict

from edgelab.edge import fieldnames
from edgelab.edge.fieldnames import HOST, field_name


def test_a_parsed_name_is_found_by_any_case_and_keeps_its_own() -> None:
    headers = CIMultiDict([(field_name(b"hOsT"), "example.com")])
    assert headers.get(HOST) == "example.com" and headers.get("host") == "example.com"
    assert list(headers.keys()) == ["hOsT"]  # forwarded as the client spelled it


def test_names_are_interned_but_the_table_is_bounded() -> None:
    assert field_name(b"X-Seen-Twice") is field_name(b"X-Seen-Twice")
    for i in range(fieldnames._INTERNED_MAX + 10):  # a client inventing names
        assert field_name(f"X-Invented-{i}".encode()) == f"X-Invented-{i}"
    assert len(fieldnames._interned) <= fieldnames._INTERNED_MAX


def test_bytes_that_are_not_utf8_survive_as_surrogates() -> None:
    name = field_name(b"X-\xff")
    assert name == "X-\udcff" and name.encode("utf-8", "surrogateescape") == b"X-\xff"
