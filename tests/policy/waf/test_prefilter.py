"""The RE2 prefilter (one scan per phase) must find exactly what scanning value by value finds.

The engine keeps the exhaustive per-value scan (it is what runs under `re`), so the two can be
compared on every request of the evaluation corpus, attacks and benign alike, plus values made
to stress the joins: anchors, line breaks inside values, transformations that create triggers.
"""

from __future__ import annotations

import random

import pytest

from edgelab.policy.waf.engine import EngineOptions, WafEngine, WafVerdict, verdict_of
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import load_default_ruleset
from edgelab.testing.waf_corpus import (
    CorpusRequest,
    attacks,
    benign,
    heldout_attacks,
    heldout_benign,
)

ODD = [
    CorpusRequest("odd", "GET", "/a%0d%0a/../etc/passwd", "x=1%0a;id&y=%2e%2e%5c", {}),
    CorpusRequest("odd", "GET", "/", "q=line1%0Aunion+select+1&z=%26lt%3Bscript", {}),
    CorpusRequest("odd", "POST", "/f", "", {"Content-Type": "text/plain"}, b"a\n../../x\n<svg"),
    CorpusRequest("odd", "GET", "/", "a=%2525253Cscript%25253E&b=%u003cscript", {}),
    CorpusRequest("odd", "GET", "/", "", {"Referer": "http://x/?a=1&para=2&#x3c;"}),
    CorpusRequest(
        "odd",
        "GET",
        "/",
        "",
        {
            "Host": "10.0.0.1",
            "X-Real-IP": "1' or '1'='1",
            "X-Forwarded-For": "127.0.0.1, <svg/onload=x>",
            "Range": "bytes=0-18446744073709551615",
            "User-Agent": "%3Cscript%3E sqlmap",
        },
    ),
]


def _request(c: CorpusRequest) -> WafRequest:
    req = WafRequest.build(c.method, c.path, c.query, c.headers, "198.51.100.7")
    if c.body is not None:
        req.set_body(c.body, truncated=False)
    return req


@pytest.fixture(scope="module")
def engine() -> WafEngine:
    return WafEngine(load_default_ruleset(), EngineOptions(paranoia_level=2))


def test_prefilter_hits_equal_the_exhaustive_scan(engine: WafEngine) -> None:
    """Also for the patterns confirmed only on demand (`same_value_as` chains): where the
    exhaustive scan found them first, `locate` finds them."""
    corpus = attacks() + benign() + heldout_attacks() + heldout_benign() + ODD
    checked = located = 0
    for c in corpus:
        for phase, index in engine._regex.items():
            assert index.prefilter is not None
            req = _request(c)
            fast = index.hits(req)
            prefilter, index.prefilter = index.prefilter, None
            try:
                slow = index.hits(_request(c))
            finally:
                index.prefilter = prefilter
            deferred = index._deferred
            assert {i: sorted(v) for i, v in fast.items()} == {
                i: sorted(v) for i, v in slow.items() if i not in deferred
            }, (phase, c.note)
            everywhere = {w for t in ("args", "headers", "cookies") for w, _ in req.values(t)}
            for i in deferred:
                first = next(((w, t) for w, t in slow.get(i, []) if w in everywhere), None)
                expected = None if first is None else (first[0], index.search(i, first[1]))
                assert index.locate(req, i, everywhere) == expected, (phase, c.note)
                located += expected is not None
            checked += bool(slow)
    assert checked > len(attacks())  # the comparison saw plenty of matches, not only misses
    assert located > 10


def test_one_scan_for_both_phases_finds_what_each_phase_finds(engine: WafEngine) -> None:
    """A request without a body is scanned once for both phases (`scan_bodiless`)."""
    corpus = [c for c in attacks() + benign() + heldout_attacks() + ODD if c.body is None]
    for c in corpus:
        both = _request(c)
        engine.scan_bodiless(both)
        for phase, index in engine._regex.items():
            prefilter, index.prefilter = index.prefilter, None
            try:
                slow = index.hits(_request(c))
            finally:
                index.prefilter = prefilter
            fast = index.hits(both)
            assert {i: sorted(v) for i, v in fast.items()} == {
                i: sorted(v) for i, v in slow.items() if i not in index._deferred
            }, (phase, c.note)
            for i in index._deferred:
                every = {w for w, _ in slow.get(i, [])}
                assert (index.locate(both, i, every) is not None) == bool(every), c.note


def test_a_body_set_after_a_scan_is_scanned_again(engine: WafEngine) -> None:
    req = WafRequest.build("POST", "/f", "", {"Content-Type": "application/x-www-form-urlencoded"})
    engine.scan_bodiless(req)  # a caller mistake: the body comes after all
    req.set_body(b"file=..%2F..%2F..%2Fetc%2Fpasswd", truncated=False)
    verdict = engine.evaluate(req, "body", 0.0)
    assert verdict.blocked


def test_a_confirmation_kept_across_requests_gives_the_same_hits() -> None:
    """A pattern the scan reports is confirmed on its own targets' values; what it said of a
    short text is kept (`RegexIndex.verdicts`), per pattern, and dropped by `forget`."""
    engine = WafEngine(load_default_ruleset(), EngineOptions())
    index = engine._regex["headers"]

    def hits(host: str) -> dict[int, list[tuple[str, str]]]:
        def request() -> WafRequest:
            headers = {"Host": host, "Upgrade-Insecure-Requests": "1"}
            return WafRequest.build("GET", "/p", "", headers, "198.51.100.7")

        req = request()
        engine.scan_bodiless(req)  # one scan of every value: the "1" sets off the host pattern
        found = index.hits(req)
        prefilter, index.prefilter = index.prefilter, None
        try:
            slow = index.hits(request())
        finally:
            index.prefilter = prefilter
        assert {i: sorted(v) for i, v in found.items()} == {
            i: sorted(v) for i, v in slow.items() if i not in index._deferred
        }
        return found

    assert hits("shop.example.com") == hits("shop.example.com") == {}
    kept = {k: v for k, v in index.verdicts.items() if k[1] == "shop.example.com"}
    assert kept and not any(kept.values())  # the host pattern was confirmed, and missed
    by_address = hits("10.1.2.3")  # the same pattern on an address: kept apart, and found
    assert any(w == "header:host" for found in by_address.values() for w, _ in found)
    assert any(k[1] == "10.1.2.3" and v for k, v in index.verdicts.items())
    engine.forget()
    assert not index.verdicts


def test_which_values_a_chain_may_change_is_each_value_looked_at_alone(engine: WafEngine) -> None:
    """`Prefilter._changing` finds needles in the values joined; it must say of each value
    what a test of that value alone says, also when values hold line breaks (a decoded
    `%0a`), are empty, or hold a needle at their very start or end."""
    prefilter = engine._both
    assert prefilter is not None and prefilter.needles is not None
    needles = prefilter.needles
    rng = random.Random(7)
    pieces = [*needles, "\n", "a", "bc", " ", "", "x\ny", "%2", "&amp;", "é"]
    for _ in range(3000):
        values = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))
            for _ in range(rng.randint(1, 8))
        ]
        alone = [any(n in v for n in needles) for v in values]
        assert prefilter._changing(values) == (alone if any(alone) else []), values


def test_values_seen_before_are_scanned_on_their_own_once_and_then_known() -> None:
    """A short value seen on two requests is scanned on its own lines and kept
    (`Prefilter.known`); later requests scan only their new values, and find the same."""
    engine = WafEngine(load_default_ruleset(), EngineOptions())
    both = engine._both
    assert both is not None

    def verdict(query: str, agent: str) -> WafVerdict:
        headers = {"Host": "shop.example.com", "User-Agent": agent, "Cookie": "sid=1"}
        req = WafRequest.build("GET", "/p", query, headers, "198.51.100.7")
        engine.scan_bodiless(req)
        st = engine.start()
        engine.run(req, "headers", 0.0, st)
        engine.run(req, "body", 0.0, st)
        return verdict_of(st)

    attack = "q=1%27%20union%20select%20password%20from%20users--"
    first = [verdict(attack, "Mozilla/5.0"), verdict("q=coffee", "sqlmap/1.7")]
    assert "1' union select password from users--" not in both.known  # seen once: not yet
    again = [verdict(attack, "Mozilla/5.0"), verdict("q=coffee", "sqlmap/1.7")]
    assert "1' union select password from users--" in both.known and "Mozilla/5.0" in both.known
    assert both.known["1' union select password from users--"]  # it sets off its patterns
    later = [verdict(attack, "Mozilla/5.0"), verdict("q=coffee", "sqlmap/1.7")]
    assert first == again == later and first[0].blocked and first[1].blocked
    engine.forget()
    assert not both.known and not both.seen


def test_a_known_value_sets_off_a_header_pattern_only_from_that_header() -> None:
    """What a known value's own lines set off counts for the patterns that read only some
    headers (the host-is-an-address pattern) only when the value came in one of those
    headers (`Prefilter.header_only`): a `1` in Upgrade-Insecure-Requests leaves it out, a
    `1` as the Host does not."""
    engine = WafEngine(load_default_ruleset(), EngineOptions())
    both = engine._both
    assert both is not None
    host_pattern = next(
        i for i, (src, _, _) in enumerate(engine._regex["headers"]._patterns) if src == r"^[\d.:]+$"
    )
    assert host_pattern in both.header_only

    def request(host: str) -> WafRequest:
        headers = {"Host": host, "Upgrade-Insecure-Requests": "1"}
        return WafRequest.build("GET", "/p", "", headers, "198.51.100.7")

    for _ in range(2):  # seen twice: known
        both.candidates(request("shop.example.com"))
    assert both.known["1"] and both.known["shop.example.com"] == frozenset()
    assert host_pattern not in both.candidates(request("shop.example.com"))
    assert host_pattern in both.candidates(request("1"))  # known too, and read as the Host
    req = request("1")
    engine.scan_bodiless(req)
    st = engine.start()
    engine.run(req, "headers", 0.0, st)
    assert any(m.target == "header:host" for m in verdict_of(st).matches)


def _long_attack_text(rnd: random.Random, size: int) -> str:
    """Attack values of the corpus, url-decoded once, in a random order, to `size` characters:
    one value in which the chains make different forms (comments, escapes, entities)."""
    pieces = [c.query or (c.body or b"").decode("latin-1") for c in attacks()]
    pieces += ["/*x*/", "\\x3c", "&lt;script&gt;", "%27", "..\\..\\", "'--", "<img src=x onerror="]
    out: list[str] = []
    length = 0
    while length < size:
        piece = rnd.choice(pieces) + rnd.choice((" ", "\n", "(", "=", ""))
        out.append(piece)
        length += len(piece)
    return "".join(out)[:size]


@pytest.mark.parametrize("seed", range(6))
def test_a_long_value_scanned_chain_by_chain_finds_what_the_exhaustive_scan_finds(
    engine: WafEngine, seed: int
) -> None:
    """Values of SPLIT_FORMS_CHARS or more have each chain's form scanned by that chain's
    patterns alone (`Prefilter._own_forms`): in a form field, a query argument, a raw body."""
    from urllib.parse import quote

    from edgelab.policy.waf.scan import SPLIT_FORMS_CHARS

    rnd = random.Random(seed)
    text = _long_attack_text(rnd, SPLIT_FORMS_CHARS + rnd.randrange(4096))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    requests = [
        CorpusRequest("long", "POST", "/f", "", form, f"a=1&c={quote(text)}".encode()),
        CorpusRequest("long", "GET", "/s", f"q={quote(text[:5000])}&r=2", {}),
        CorpusRequest("long", "POST", "/f", "", {"Content-Type": "text/plain"}, text.encode()),
    ]
    matched = 0
    for c in requests:
        for phase, index in engine._regex.items():
            fast = index.hits(_request(c))
            prefilter, index.prefilter = index.prefilter, None
            try:
                slow = index.hits(_request(c))
            finally:
                index.prefilter = prefilter
            assert {i: sorted(v) for i, v in fast.items()} == {
                i: sorted(v) for i, v in slow.items() if i not in index._deferred
            }, (phase, c.path)
            matched += len(slow)
    assert matched > 10  # the comparison saw plenty of matches
