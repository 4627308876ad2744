"""Detection per attack category on a fixed sample, and no false positive on benign traffic.

The figures for the whole corpus (and the held-out set) come from `benchmarks/waf_eval.py`.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import random
import re
import sys
import threading
from collections.abc import Callable
from urllib.parse import unquote

import libinjection
import pytest

from edgelab.policy.waf.engine import EngineOptions, WafEngine
from edgelab.policy.waf.operators import (
    _binding_sqli,
    _binding_xss,
    _direct_sqli,
    _direct_xss,
    _libinjection_function,
    _library_version,
    detect_sqli,
    detect_xss,
    sqli_possible,
    xss_possible,
)
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import load_default_ruleset
from edgelab.policy.waf.sqli_words import LIBINJECTION_VERSION, SQL_WORDS
from edgelab.testing.waf_corpus import (
    CATEGORIES,
    HELDOUT4_ATTACKS,
    HELDOUT5_ATTACKS,
    HELDOUT6_ATTACKS,
    HELDOUT7_ATTACKS,
    CorpusRequest,
    attacks,
    benign,
    evaluate,
    heldout2_attacks,
    heldout2_benign,
    heldout3_attacks,
    heldout3_benign,
    heldout4_attacks,
    heldout4_benign,
    heldout5_attacks,
    heldout5_benign,
    heldout6_attacks,
    heldout6_benign,
    heldout7_attacks,
    heldout7_benign,
    heldout_attacks,
    heldout_benign,
)

DETECTION_FLOOR = {
    "sqli": 0.9,
    "xss": 0.9,
    "lfi": 0.9,
    "rce": 0.9,
    "scanner": 0.9,
    "protocol": 0.75,
}
"""Per category at paranoia level 1; the issue's floor is 75% per category, 90% overall."""


@functools.cache
def engine() -> WafEngine:
    return WafEngine(load_default_ruleset(), EngineOptions(paranoia_level=1))


@pytest.mark.parametrize("category", CATEGORIES)
def test_detection_per_category(category: str) -> None:
    requests = [r for r in attacks() if r.category == category][::2]  # fixed: every second
    assert len(requests) >= 10
    missed = [r.note for r in requests if not evaluate(engine(), r).blocked]
    rate = 1 - len(missed) / len(requests)
    assert rate >= DETECTION_FLOOR[category], missed


def test_no_false_positive_on_benign_traffic() -> None:
    """The main benign set (with its hard free text) and the first held-out benign set, whose
    false positives were fixed: free text that libinjection tokenises as SQL, "sleep(1) in
    python", "../ means parent directory"; since round 5 also the second and third held-out
    benign sets (code, SQL and shell in posts, `href="javascript:void(0)"`)."""
    requests = benign() + heldout_benign() + heldout2_benign() + heldout3_benign()
    assert len(requests) >= 500
    blocked = [
        (r.note, [m.rule_id for m in v.matches])
        for r in requests
        if (v := evaluate(engine(), r)).blocked
    ]
    assert blocked == []


@pytest.mark.parametrize("category", ["sqli", "xss", "lfi", "rce"])
def test_detection_on_the_first_held_out_set(category: str) -> None:
    requests = [r for r in heldout_attacks() if r.category == category]
    assert len(requests) >= 20
    missed = [r.note for r in requests if not evaluate(engine(), r).blocked]
    assert 1 - len(missed) / len(requests) >= 0.9, missed


@pytest.mark.parametrize(
    ("attacks_of", "benign_of"),
    [
        (heldout2_attacks, heldout2_benign),
        (heldout3_attacks, heldout3_benign),
        (heldout4_attacks, heldout4_benign),
    ],
    ids=["heldout2", "heldout3", "heldout4"],
)
def test_held_out_sets_tuned_on_stay_within_the_targets(
    attacks_of: Callable[[], list[CorpusRequest]], benign_of: Callable[[], list[CorpusRequest]]
) -> None:
    """HELDOUT2 became a tuning set in the second round, HELDOUT3 in the third, HELDOUT4 in the
    fourth (it measured 137 of 138, FP 1 of 197 at the end of round 4; HELDOUT5 was not tuned
    on). Their classes must not come back: probe paths, Range abuse, odd charsets, NoSQL keys,
    shell quote/glob/backslash evasions, header-borne SQLi/XSS (X-Real-IP too), `${::-j}`,
    malformed framing headers, sensitive files by path, XSS and XXE in XML bodies, method
    overrides, h2c, two Content-Types; and, as false positives, code, SQL statements,
    `eval()`, system names, Markdown backticks, tag names, `~/.ssh` and `$_GET` in posts."""
    attacks_ = attacks_of()
    for category in CATEGORIES:
        requests = [r for r in attacks_ if r.category == category]
        missed = [r.note for r in requests if not evaluate(engine(), r).blocked]
        assert 1 - len(missed) / len(requests) >= 0.9, missed
    good = benign_of()
    blocked = [r.note for r in good if evaluate(engine(), r).blocked]
    assert len(blocked) / len(good) <= 0.01, blocked


def test_paranoia_level_2_keeps_false_positives_under_one_percent() -> None:
    """PL2 adds the noisy rules (English-word commands, any quote before a comment...)."""
    waf = WafEngine(load_default_ruleset(), EngineOptions(paranoia_level=2))
    requests = benign() + heldout_benign()
    blocked = [r.note for r in requests if evaluate(waf, r).blocked]
    assert len(blocked) / len(requests) <= 0.01, blocked


def waf_request(r: CorpusRequest) -> WafRequest:
    """The WAF's view of a corpus request, its body read whole."""
    req = WafRequest.build(r.method, r.path, r.query, r.headers)
    if r.body is not None:
        req.set_body(r.body, truncated=False)
    return req


def assert_covers_every_category(
    attacks_: list[CorpusRequest], benign_: list[CorpusRequest], per_category: int, benign: int
) -> None:
    """A held-out set's shape: every category, each with at least `per_category` attacks, and
    at least `benign` benign requests."""
    assert {r.category for r in attacks_} == set(CATEGORIES)
    assert min(sum(r.category == c for r in attacks_) for c in CATEGORIES) >= per_category
    assert len(benign_) >= benign


def corpus_values() -> list[str]:
    """Every argument, header and cookie value of the corpus's attacks and benign requests."""
    out: list[str] = []
    for r in attacks() + benign():
        req = waf_request(r)
        out += [v for _, v in req.values("args") + req.values("headers") + req.values("cookies")]
    return out


HTML_PIECES = list("<>/!?%=`'\" \t\n\x0b\x0c\r\x00aAoOnN&#;:-[]") + [
    "\xa0",
    "\u212a",  # KELVIN SIGN: Python's re folds it to k, libinjection does not
    "\u017f",
    "\u0130",
    "é",
    "on",
    "onload",
    "oNeRrOr",
    "onfoo",
    "xmlns",
    "xlink:href",
    "href",
    "src",
    "style",
    "to",
    "by",
    "from",
    "values",
    "attributename",
    "filter",
    "datasrc",
    "script",
    "svg",
    "xsl",
    "iframe",
    "frameset",
    "base",
    "link",
    "meta",
    "object",
    "embed",
    "xml",
    "comment",
    "import",
    "b",
    "img",
    "[if",
    "entity",
    "doctype",
    "javascript:",
    "data:",
    "vbscript:",
    "&#106;",
    "&#x6A;",
    "-->",
    "--",
    "![CDATA[",
    "%>",
    "alert(1)",
]
"""What libinjection's HTML5 tokenizer and blacklists turn on, to fuzz the XSS pre-check."""


def test_the_xss_shortcut_and_direct_call_agree_with_libinjection() -> None:
    """`detect_xss` skips libinjection for values it cannot flag (`xss_possible`) and calls
    its C function itself; same answers as the binding on every corpus value and on random
    strings made of what its tokenizer and blacklists turn on."""
    direct = _direct_xss()
    assert direct is not None, "the binding's shared object no longer exports libinjection_xss"
    rng = random.Random(5150)
    fuzz = ["".join(rng.choices(HTML_PIECES, k=rng.randint(1, 14))) for _ in range(30_000)]
    flagged = skipped = 0
    for value in corpus_values() + fuzz:
        expected = _binding_xss(value)
        assert direct(value) == expected, value
        assert (detect_xss(value) is not None) == expected, value
        flagged += expected
        skipped += not xss_possible(value)
    assert flagged > 300 and skipped > 10_000  # both answers, and the shortcut, were exercised


def test_the_direct_sqli_call_agrees_with_the_binding() -> None:
    """`detect_sqli` calls libinjection's C function itself; same answers and fingerprints as
    the binding on every corpus value and on random SQL-ish text (NULs and non-ASCII too)."""
    direct = _direct_sqli()
    assert direct is not None, "the binding's shared object no longer exports libinjection_sqli"
    rng = random.Random(9111)
    alphabet = list("'\"`-#/*;=()<>,. 01aAeEoOrRnNdDuUsSlLcCtT\x00é") + [
        " union ",
        " select ",
        " or ",
        " and ",
        "--",
        "/*",
        "1=1",
        "@@version",
        "sleep(",
        "char(",
    ]
    fuzz = ["".join(rng.choices(alphabet, k=rng.randint(1, 24))) for _ in range(3000)]
    checked = flagged = 0
    for value in corpus_values() + fuzz:
        expected = _binding_sqli(value)
        assert direct(value) == expected, value
        checked += 1
        flagged += expected is not None
    assert flagged > 100 and checked - flagged > 100  # both answers were exercised


def test_the_direct_sqli_call_gives_each_thread_its_own_fingerprint() -> None:
    """The event loop and the WAF's body worker call libinjection at once: each thread's
    answers are the binding's, fingerprint included (one shared buffer could hand a thread the
    other's fingerprint, which decides `ignore = ["E*"]`)."""
    direct = _direct_sqli()
    assert direct is not None
    values = [v for v in corpus_values() if _binding_sqli(v) is not None][:200]
    expected = [_binding_sqli(v) for v in values]
    assert len(set(expected)) > 20  # many different fingerprints to mix up
    wrong: list[str] = []

    def check(order: list[int]) -> None:
        for _ in range(20):
            wrong.extend(values[i] for i in order if direct(values[i]) != expected[i])

    orders = [list(range(len(values))), list(reversed(range(len(values))))]
    threads = [threading.Thread(target=check, args=(order,)) for order in orders]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong


def _keyword_table_words() -> frozenset[str]:
    """`SQL_WORDS` made again from the installed binding's shared object (see `sqli_words`):
    each NUL-ended text of ASCII in it and each of its tails, asked of libinjection's own
    lookup; the words of letters and digits it knows, and the first word of each keyword of
    several such words."""
    lookup = _libinjection_function("libinjection_sqli_lookup_word")
    assert lookup is not None
    lookup.restype = ctypes.c_char
    with open(libinjection.__file__, "rb") as f:
        texts = re.findall(rb"[\x20-\x7e]+(?=\x00)", f.read())
    shape = re.compile(r"[A-Za-z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)*")
    candidates = {chr(c) for c in range(ord("A"), ord("Z") + 1)}
    for text in texts:
        decoded = text.decode("ascii")
        candidates.update(
            decoded[i:].upper() for i in range(len(decoded)) if shape.fullmatch(decoded[i:])
        )
    known = [w for w in candidates if lookup(None, 1, w.encode(), ctypes.c_size_t(len(w))) != b"\0"]
    return frozenset(w.split(" ")[0] for w in known)


def test_the_sqli_words_are_the_installed_libinjections_keyword_table() -> None:
    """`sqli_possible` is sound only with the keyword table of the libinjection that answers:
    the list is that table's, and the pre-check is on for this version."""
    assert _library_version() == LIBINJECTION_VERSION, "make sqli_words.SQL_WORDS for this version"
    assert _keyword_table_words() == SQL_WORDS
    assert {"SELECT", "UNION", "SLEEP", "AND", "SOUNDS", "AT"} <= SQL_WORDS


def test_no_fingerprint_of_plain_words_and_numbers_is_blacklisted() -> None:
    """Every fingerprint of up to five barewords and numbers (what a value `sqli_possible`
    passes tokenises as), asked of libinjection's own blacklist lookup (the table holds each
    as `0` and the fingerprint): none is there. (`0UE1`, a UNION, is.)"""
    lookup = _libinjection_function("libinjection_sqli_lookup_word")
    lookup.restype = ctypes.c_char

    def blacklisted(fingerprint: str) -> bool:
        key = ("0" + fingerprint.upper()).encode()
        return lookup(None, 1, key, ctypes.c_size_t(len(key))) == b"F"

    assert blacklisted("UE1")
    for size in range(1, 6):
        for tokens in itertools.product("n1", repeat=size):
            assert not blacklisted("".join(tokens)), tokens


def test_the_sqli_shortcut_never_hides_what_libinjection_flags() -> None:
    """`detect_sqli` skips libinjection for plain words and numbers (`sqli_possible`); on every
    corpus value and on many generated ones (keywords, words that merge into one, numbers
    glued to words, long words, either case), it answers as the binding does."""
    rng = random.Random(4242)
    keywords = sorted(SQL_WORDS) + ["like", "by", "time", "zone", "join", "all"]
    plain = "burr grinder coffee page ref search sid session cart en GB the of and to".split()

    def word() -> str:
        kind = rng.random()
        if kind < 0.35:
            w = rng.choice(plain)
        elif kind < 0.55:
            w = rng.choice(keywords)
        elif kind < 0.7:
            w = str(rng.randint(0, 10 ** rng.randint(1, 12)))
        elif kind < 0.85:
            w = "".join(rng.choices("abcdef0123456789xXeE", k=rng.randint(1, 36)))
        else:
            w = rng.choice(plain) + rng.choice(["", "1", "union", "e5", "x"])
        return w.upper() if rng.random() < 0.2 else w

    fuzz = [
        " ".join(word() for _ in range(rng.randint(1, 7))) + rng.choice(["", " ", "'", "--"])
        for _ in range(20_000)
    ]
    flagged = skipped = 0
    for value in corpus_values() + fuzz:
        expected = _binding_sqli(value)
        assert detect_sqli(value) == expected, value
        flagged += expected is not None
        skipped += not sqli_possible(value)
    assert flagged > 100 and skipped > 3_000  # both answers, and the shortcut, were exercised


def test_the_fourth_held_out_sets_deliveries_reach_the_waf_where_they_claim() -> None:
    """HELDOUT4 is measured once, at the end of a round; this checks its shape only (never what
    the rules make of it): every category is there, and the multipart, XML and several-headers
    deliveries put the payload where the WAF reads it (an XML body through the XML processor)."""
    attacks_ = heldout4_attacks()
    assert_covers_every_category(attacks_, heldout4_benign(), per_category=10, benign=170)
    seen = set()
    for (_, how, payload), r in zip(HELDOUT4_ATTACKS, attacks_, strict=True):
        if how not in ("multipart", "xml", "headers"):
            continue
        seen.add(how)
        assert r.body is not None
        req = waf_request(r)
        if how == "multipart":
            assert ("args:comment", payload) in req.values("args")
        elif how == "xml":  # parsed: its text, attributes and declarations are fields
            assert r.body == ('<?xml version="1.0"?>' + payload).encode()
            assert req.values("body_args") and req.values("reqbody_error") == []
        else:
            for line in payload.splitlines():
                name, _, value = line.partition(": ")
                assert req.values(f"header:{name.lower()}") == [(f"header:{name.lower()}", value)]
    assert seen == {"multipart", "xml", "headers"}


def test_the_fifth_held_out_sets_deliveries_reach_the_waf_where_they_claim() -> None:
    """HELDOUT5 is measured once, at the end of round 4; this checks its shape only (never what
    the rules make of it): every category is there with at least 15 attacks, and each delivery
    of its own (and the multipart, XML and several-headers ones) carries the payload where it
    says: a form field, a JSON array's object, a path segment, an upload's file name, the
    XML document, the named headers."""
    attacks_ = heldout5_attacks()
    assert_covers_every_category(attacks_, heldout5_benign(), per_category=15, benign=200)
    assert len(attacks_) >= 130
    seen = set()
    for (_, how, payload), r in zip(HELDOUT5_ATTACKS, attacks_, strict=True):
        req = waf_request(r)
        seen.add(how)
        if how == "multipart":
            assert ("args:comment", payload) in req.values("args")
        elif how == "jsonarray":
            assert ("args:items.0.note", payload) in req.values("args")
        elif how == "pathseg":
            assert unquote(r.path) == f"/products/{payload}"
        elif how == "filename":
            assert r.body is not None and f'filename="{payload}"'.encode() in r.body
        elif how in ("xml", "textxml"):
            assert r.body is not None and r.body.decode().endswith("?>" + payload)
        elif how == "headers":
            for line in payload.splitlines():
                name, _, value = line.partition(": ")
                assert req.values(f"header:{name.lower()}") == [(f"header:{name.lower()}", value)]
    assert {"multipart", "jsonarray", "pathseg", "filename", "xml", "textxml", "headers"} <= seen


def test_the_sixth_held_out_sets_deliveries_reach_the_waf_where_they_claim() -> None:
    """HELDOUT6 is measured once, at the end of round 5; this checks its shape only (never what
    the rules make of it): every category is there with at least 20 attacks, and each delivery
    of its own carries the payload where it says: a GraphQL variable, a webhook's nested field,
    a PUT's JSON field, a bracketed query argument, an OAuth redirect_uri, a `+`-encoded query."""
    attacks_ = heldout6_attacks()
    assert_covers_every_category(attacks_, heldout6_benign(), per_category=20, benign=200)
    assert len(attacks_) >= 150
    where = {
        "graphql": "args:variables.q",
        "webhook": "args:issue.body",
        "put": "args:display_name",
        "bracket": "args:filter[name]",
        "redirect": "args:redirect_uri",
        "plusquery": "args:q",
    }
    seen = set()
    for (_, how, payload), r in zip(HELDOUT6_ATTACKS, attacks_, strict=True):
        if how not in where:
            continue
        seen.add(how)
        req = waf_request(r)
        assert (where[how], payload) in req.values("args"), (how, payload)
    assert seen == set(where)


def test_the_seventh_held_out_sets_deliveries_reach_the_waf_where_they_claim() -> None:
    """HELDOUT7 is measured once, at the end of round 6; this checks its shape only (never what
    the rules make of it): every category is there with at least 20 attacks, and each delivery
    of its own carries the payload where it says: a cart line's option, a checkout form's
    bracketed field, a search-as-you-type call, a `text/plain` beacon's JSON, a mobile app's
    JSON, a JSON merge patch, an argument's name, a JSON key, a `\\u`-escaped JSON string, a
    wiki edit, a shared file's description, a Java matrix parameter in the path."""
    attacks_ = heldout7_attacks()
    assert_covers_every_category(attacks_, heldout7_benign(), per_category=20, benign=200)
    assert len(attacks_) >= 150
    where = {
        "cartjson": "args:items.0.properties.Engraving",
        "checkout": "args:checkout[shipping_address][address1]",
        "suggest": "args:q",
        "beacon": "args:events.0.params.page_title",
        "mobile": "args:bio",
        "patch": "args:title",
        "jsonescape": "args:comment",
        "wiki": "args:wpTextbox1",
        "sharemeta": "args:description",
    }
    seen = set()
    for (_, how, payload), r in zip(HELDOUT7_ATTACKS, attacks_, strict=True):
        req = waf_request(r)
        seen.add(how)
        if how == "matrix":
            assert unquote(r.path) == f"/catalog/item;id={payload}"
        elif how == "argname":
            assert any(v == payload for _, v in req.values("args_names")), payload
        elif how == "jsonkey":
            assert any(v == f"filters.{payload}" for _, v in req.values("args_names")), payload
        elif how in where:
            assert (where[how], payload) in req.values("args"), (how, payload)
    assert set(where) | {"matrix", "argname", "jsonkey"} <= seen


HELDOUT5_MEASURED = {
    "sqli": 26,
    "xss": 26,
    "lfi": 25,
    "rce": 33,
    "scanner": 26,
    "protocol": 16,
}
"""Held-out 5's detections per category at PL1 (of 26, 26, 25, 33, 26 and 19): 144 when measured
once at the end of round 4, 152 after round 5 tuned on it, with false positives 10 -> 5 of 203."""


def test_the_fifth_held_out_set_keeps_what_round_5_tuned() -> None:
    """HELDOUT5 was written before round 4, run once at its end (144 of 155, FP 10 of 203), then
    tuned on in round 5: a path segment's SQL break-out, header-borne file names, ERB tags and
    `__import__`, AcuSensor headers, a Connection header naming X-Forwarded-For; and, as false
    positives, `javascript:void(0)`, `chmod 600`, `| awk` after a pipe, a JSX handler, a quoted
    `prepare('SELECT ...')`. None of them may come back."""
    attacks_ = heldout5_attacks()
    for category, floor in HELDOUT5_MEASURED.items():
        requests = [r for r in attacks_ if r.category == category]
        detected = sum(evaluate(engine(), r).blocked for r in requests)
        assert detected >= floor, (category, detected, len(requests))
    blocked = [r.note for r in heldout5_benign() if evaluate(engine(), r).blocked]
    assert len(blocked) <= 5, blocked


HELDOUT6_MEASURED = {
    "sqli": 26,
    "xss": 30,
    "lfi": 27,
    "rce": 30,
    "scanner": 24,
    "protocol": 15,
}
"""Held-out 6's detections per category at PL1, measured once at the end of round 5 (of 26, 30,
27, 30, 25 and 20), with 11 false positives of 216: never tuned on, so a floor, not a target."""


def test_the_sixth_held_out_set_stays_at_what_it_measured() -> None:
    """HELDOUT6 was written before round 5 and run once at its end: 152 of 158 (96.2%), every
    category at 75% or over, and 11 false positives of 216 (5.1%: code in posts and docs, an
    OAuth redirect to localhost, a CMS header-scripts setting). Round 6 tuned on it: a CSS
    selector's `'#menu'`, `getRuntime().availableProcessors()`, `<meta charset="utf-8">`,
    `location.replace` named, `setTimeout(fn, 0)` pass now (6 left, what per-site exclusions
    are for). A later change may move it up (or tune on it, and say so), not down."""
    attacks_ = heldout6_attacks()
    for category, floor in HELDOUT6_MEASURED.items():
        requests = [r for r in attacks_ if r.category == category]
        detected = sum(evaluate(engine(), r).blocked for r in requests)
        assert detected >= floor, (category, detected, len(requests))
    blocked = [r.note for r in heldout6_benign() if evaluate(engine(), r).blocked]
    assert len(blocked) <= 6, blocked


HELDOUT7_MEASURED = {
    "sqli": 23,
    "xss": 26,
    "lfi": 25,
    "rce": 27,
    "scanner": 22,
    "protocol": 18,
}
"""Held-out 7's detections per category at PL1, measured once at the end of round 6 (of 26, 27,
25, 27, 25 and 22), with no false positive of 202: never tuned on, so a floor, not a target."""


def test_the_seventh_held_out_set_stays_at_what_it_measured() -> None:
    """HELDOUT7 was written before round 6 and run once at its end: 141 of 152 (92.8%), every
    category at 80% or over, and no false positive of 202 (shop, clinic, bank and wiki traffic,
    beacons, mobile APIs, browser and CDN headers). A later change may move it up (or tune on
    it, and say so), not down."""
    attacks_ = heldout7_attacks()
    for category, floor in HELDOUT7_MEASURED.items():
        requests = [r for r in attacks_ if r.category == category]
        detected = sum(evaluate(engine(), r).blocked for r in requests)
        assert detected >= floor, (category, detected, len(requests))
    blocked = [r.note for r in heldout7_benign() if evaluate(engine(), r).blocked]
    assert blocked == []
