from __future__ import annotations

import pytest
from multidict import CIMultiDict

from edgelab.policy.cache.key import KeyOptions, primary_key, vary_names, vary_values
from tests.policy.cache.helpers import headers


@pytest.mark.parametrize(
    ("options", "query", "h", "expected"),
    [
        (KeyOptions(), "b=2&a=1", headers(), "http://www.example/p?b=2&a=1"),
        (KeyOptions(), "", headers(), "http://www.example/p"),
        (KeyOptions(ignore_query=True), "b=2&a=1", headers(), "http://www.example/p"),
        (KeyOptions(sort_query=True), "b=2&a=1", headers(), "http://www.example/p?a=1&b=2"),
        (KeyOptions(include_host=False), "", headers(), "http://*/p"),
        (
            KeyOptions(headers=("X-Device",)),
            "",
            headers(X_Device="mobile"),
            "http://www.example/p|x-device=mobile",
        ),
        (KeyOptions(headers=("X-Device",)), "", headers(), "http://www.example/p|x-device="),
    ],
)
def test_primary_key(options: KeyOptions, query: str, h: CIMultiDict[str], expected: str) -> None:
    assert primary_key("http", "WWW.Example", "/p", query, h, options) == expected


def test_plain_options_are_the_fast_default() -> None:
    assert KeyOptions().plain and not KeyOptions(ignore_query=True).plain


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ()),
        (["Accept-Encoding"], ("accept-encoding",)),
        (
            ["accept-language, Accept-Encoding", "Accept-Encoding"],
            ("accept-encoding", "accept-language"),
        ),
        (["Accept, *"], None),
    ],
)
def test_vary_names(values: list[str], expected: tuple[str, ...] | None) -> None:
    assert vary_names(values) == expected


def test_vary_values_normalise_whitespace_and_combine_lines() -> None:
    a = vary_values(("accept-encoding", "x-absent"), headers(Accept_Encoding="gzip,  br"))
    b = vary_values(
        ("accept-encoding", "x-absent"),
        headers(("Accept-Encoding", "gzip"), ("Accept-Encoding", "br")),
    )
    assert a == b == ("gzip,br", None)
