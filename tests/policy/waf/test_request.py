from __future__ import annotations

import pytest

from edgelab.policy.waf.request import (
    JSON_TOO_DEEP,
    MAX_BODY_FIELDS,
    MAX_JSON_DEPTH,
    TOO_MANY_FIELDS,
    WafRequest,
    is_target,
)


def test_targets_of_a_get() -> None:
    req = WafRequest.build(
        "GET",
        "/a%2Fb",
        "id=1%27&x=&id=2",
        [("Host", "h"), ("Cookie", "sid=abc; theme=dark"), ("X-A", "1"), ("x-a", "2")],
        "192.0.2.1",
    )
    assert req.values("method") == [("method", "GET")]
    assert req.values("path") == [("path", "/a%2Fb")]
    assert req.values("uri") == [("uri", "/a%2Fb?id=1%27&x=&id=2")]
    assert req.values("args") == [("args:id", "1'"), ("args:x", ""), ("args:id", "2")]
    assert req.values("args_names") == [("args_names", n) for n in ("id", "x", "id")]
    assert req.values("cookies") == [("cookies:sid", "abc"), ("cookies:theme", "dark")]
    assert req.values("cookie_names") == [("cookie_names", "sid"), ("cookie_names", "theme")]
    assert req.values("header:x-a") == [("header:x-a", "1"), ("header:x-a", "2")]
    assert req.values("count:header:x-a") == [("count:header:x-a", "2")]
    assert req.values("count:header:missing") == [("count:header:missing", "0")]
    assert req.values("ip") == [("ip", "192.0.2.1")]
    assert req.values("body") == []


@pytest.mark.parametrize(
    ("ctype", "body", "expected"),
    [
        ("application/x-www-form-urlencoded", b"a=1&b=%3Cx", [("args:a", "1"), ("args:b", "<x")]),
        (
            "application/json",
            b'{"a": {"b": ["x", 2, null]}, "<k>": true}',
            [
                ("args:a.b.0", "x"),
                ("args:a.b.1", "2"),
                ("args:a.b.2", "null"),
                ("args:<k>", "true"),
            ],
        ),
        # A wrong or missing Content-Type does not hide fields from the rules.
        ("text/plain", b'{"q": "1 or 1=1"}', [("args:q", "1 or 1=1")]),
        ("", b"q=%27", [("args:q", "'")]),
        (
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="t"\r\n\r\nhi\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.php"\r\n\r\n'
            b"<?php ?>\r\n--XyZ--\r\n",
            [("args:t", "hi")],
        ),
        ("application/json", b'{"cut at the li', []),
    ],
)
def test_body_args_by_content_type(
    ctype: str, body: bytes, expected: list[tuple[str, str]]
) -> None:
    req = WafRequest.build("POST", "/", "q0=0", {"Content-Type": ctype})
    assert req.values("args") == [("args:q0", "0")]
    req.set_body(body, truncated=False)
    assert req.values("args") == [("args:q0", "0"), *expected]
    # The raw body is a target only when no parser made fields of it.
    assert req.values("body") == ([] if expected else [("body", body.decode())])


def test_an_uploads_name_is_a_file_and_its_content_is_not_a_field() -> None:
    """As ModSecurity's FILES: the rules read an upload's file name, not its content; a body of
    uploads only is parsed too (not read raw)."""
    body = (
        b'--B\r\nContent-Disposition: form-data; name="doc"; filename="../x/shell.php"\r\n'
        b"Content-Type: text/html\r\n\r\n<script src=app.js></script>\r\n--B--\r\n"
    )
    req = WafRequest.build("POST", "/", "", {"Content-Type": "multipart/form-data; boundary=B"})
    req.set_body(body, truncated=False)
    assert req.values("files") == [("files:doc", "../x/shell.php")]
    assert req.values("args") == [] and req.values("body") == []
    req.set_body(b"plain", truncated=False)
    assert req.values("files") == [] and req.values("body") == [("body", "plain")]


def test_a_text_body_stays_raw() -> None:
    req = WafRequest.build("POST", "/", "", {"Content-Type": "text/plain"})
    req.set_body(b"hello world, a=b", truncated=False)
    assert req.values("body_args") == []
    assert req.values("body") == [("body", "hello world, a=b")]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("args", True),
        ("header:x-y", True),
        ("count:args", True),
        ("header:", False),
        ("nope", False),
    ],
)
def test_is_target(name: str, ok: bool) -> None:
    assert is_target(name) is ok


def test_values_are_always_valid_text() -> None:
    """Undecodable header bytes (surrogate escapes) and JSON's lone surrogates become U+FFFD."""
    req = WafRequest.build("POST", "/", "", {"X-A": "a\udcffb", "Content-Type": "application/json"})
    req.set_body(b'{"k": "\\ud800x"}', truncated=False)
    [(_, header)] = req.values("header:x-a")
    [(_, arg)] = req.values("args")
    for value in (header, arg):
        value.encode("utf-8")  # valid text: no lone surrogate left
        assert "\ufffd" in value
    assert header[0] == "a" and header[-1] == "b" and arg[-1] == "x"


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("application/json", b'{"a\\ud800b": {"\\udfff": "x\\udc00y"}, "k": ["\\ud83d"]}'),
        (
            "application/x-www-form-urlencoded",
            b"a%ED%A0%80b=%ED%BF%BF&c=%C0%80%F0%9F\xff\xed\xa0\x80",
        ),
        ("text/plain", b"raw \xed\xa0\x80 \xff\xfe"),
        (
            "multipart/form-data; boundary=B",
            b'--B\r\nContent-Disposition: form-data; name="n\xed\xa0\x80"\r\n\r\nv\xed\xa0\x80'
            b'\r\n--B\r\nContent-Disposition: form-data; name="f"; filename="\xed\xb0\x80.txt"'
            b"\r\n\r\ndata\r\n--B--\r\n",
        ),
        ("application/xml", b"<a b='\xed\xa0\x80'>\xed\xa0\x80&#xD800;</a>"),
        ("application/xml", '<?xml version="1.0" encoding="UTF-16"?><a>x</a>'.encode("utf-16")),
    ],
)
def test_every_body_reader_makes_valid_text(ctype: str, body: bytes) -> None:
    """Values from the body are not checked one by one for lone surrogates (`values`), so each
    body reader must make valid text of anything: JSON's `\\ud800` escapes (keys too), UTF-8
    encoded surrogates and invalid bytes in forms, raw and multipart bodies, XML."""
    req = WafRequest.build("POST", "/", "", {"Content-Type": ctype})
    req.set_body(body, truncated=False)
    seen = 0
    for target in ("body", "args", "args_names", "body_args", "files", "reqbody_error"):
        for where, value in req.values(target):
            where.encode("utf-8")
            value.encode("utf-8")  # raises on a lone surrogate
            seen += 1
    assert seen


@pytest.mark.parametrize(
    "query",
    [
        "a=1&b=2",
        "a&b=&=c&&d=e=f",
        "q=red+shoes%21&x=%E2%82%AC+%2B",
        "bad=%ZZ%&utf=%C3%28&plus=a%2Bb+c",
        "x=%u0041&semi=a;b&amp=a%26b",
        "&&&",
        "%3D=%26",
    ],
)
def test_query_args_decode_as_parse_qsl_does(query: str) -> None:
    """The fast query parser must see exactly what `parse_qsl` (and so most frameworks) sees."""
    from urllib.parse import parse_qsl

    expected = parse_qsl(query, keep_blank_values=True, errors="replace")
    req = WafRequest.build("GET", "/", query)
    assert req.values("query_args") == [(f"args:{k}", v) for k, v in expected]


def test_json_null_leaves_are_fields_too() -> None:
    """A NoSQL operator whose value is null (`{"pass": {"$ne": null}}`) is still a field name."""
    req = WafRequest.build("POST", "/login", "", {"Content-Type": "application/json"})
    req.set_body(b'{"user": "admin", "pass": {"$ne": null}}', truncated=False)
    assert ("args_names", "pass.$ne") in req.values("args_names")
    assert ("args:pass.$ne", "null") in req.values("args")


@pytest.mark.parametrize(
    ("depth", "error"),
    [
        (MAX_JSON_DEPTH, None),  # as deep as allowed: every leaf read
        (MAX_JSON_DEPTH + 1, JSON_TOO_DEEP),  # one level more: refused by the depth limit
        (50_000, JSON_TOO_DEEP),  # deeper than Python's parser goes (a RecursionError)
    ],
)
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_json_nested_too_deeply_is_a_body_error_not_a_crash(
    depth: int, error: str | None, opening: str
) -> None:
    closing = "]" if opening == "[" else "}"
    body = (opening * depth + '"leaf"' + closing * depth).encode()
    req = WafRequest.build("POST", "/api", "", {"Content-Type": "application/json"})
    req.set_body(body, truncated=False)
    errors = req.values("reqbody_error")
    assert errors == ([] if error is None else [("reqbody_error", error)])
    leaves = [v for _, v in req.values("args")]
    assert leaves == (["leaf"] if error is None else [])


def _bodies(n: int) -> dict[str, bytes]:
    """A body of each kind with `n` fields."""
    return {
        "application/x-www-form-urlencoded": "&".join(f"f{i}=v" for i in range(n)).encode(),
        "multipart/form-data; boundary=zz": b"".join(
            b'--zz\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(n)
        )
        + b"--zz--\r\n",
        "application/json": ("[" + ",".join(['"v"'] * n) + "]").encode(),
        "application/xml": b"<a>" + b"<b>v</b>" * n + b"</a>",
    }


@pytest.mark.parametrize("ctype", list(_bodies(1)))
def test_a_body_with_more_fields_than_the_bound_is_a_body_error(ctype: str) -> None:
    for n, error in (
        (MAX_BODY_FIELDS, []),
        (MAX_BODY_FIELDS + 1, [("reqbody_error", TOO_MANY_FIELDS)]),
        (20_000, [("reqbody_error", TOO_MANY_FIELDS)]),
    ):
        req = WafRequest.build("POST", "/api", "", {"Content-Type": ctype})
        req.set_body(_bodies(n)[ctype], truncated=False)
        assert len(req.values("body_args")) == min(n, MAX_BODY_FIELDS)
        assert req.values("reqbody_error") == error, (ctype, n)


def test_json_fields_are_named_by_their_dotted_path() -> None:
    body = b'{"order": {"items": [{"sku": "A-1"}, [], {"n": 2}], "empty": {}}, "ok": true}'
    req = WafRequest.build("POST", "/api", "", {"Content-Type": "application/json"})
    req.set_body(body, truncated=False)
    assert req.values("args") == [
        ("args:order.items.0.sku", "A-1"),
        ("args:order.items.2.n", "2"),
        ("args:ok", "true"),
    ]


def test_form_bodies_decode_as_parse_qsl_does() -> None:
    """A form body's `+`s become spaces before the body is decoded (one pass for all fields):
    the fields must be what `parse_qsl` makes of the decoded body, with raw and escaped
    invalid UTF-8 beside the `+`s included."""
    import random
    from urllib.parse import parse_qsl

    pieces = [b"a", b"+", b"=", b"&", b"%2B", b"%20", b"%C3", b"%A9", b"\xc3", b"\xa9", b"\xc3+",
              b"+\xa9", b"\xe2\x82", b"\xff", b"%", b"%2", b"\xc3\xa9", b"%E2%82%AC", b";"]  # fmt: skip
    rng = random.Random(21)
    for _ in range(3000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        req = WafRequest.build(
            "POST", "/", "", {"Content-Type": "application/x-www-form-urlencoded"}
        )
        req.set_body(body, truncated=False)
        text = body.decode("utf-8", errors="replace")
        expected = parse_qsl(text, keep_blank_values=True, errors="replace")
        assert req.values("body_args") == [(f"args:{k}", v) for k, v in expected], body
