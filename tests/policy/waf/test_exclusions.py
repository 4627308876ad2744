"""Per-site rule exclusions: the pure decision (which rules, which values, which requests) and
the engine honouring it, with the rules still running everywhere else."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError

from edgelab.config.edge import EdgeConfig
from edgelab.config.load import load_model
from edgelab.config.waf import WafOptions
from edgelab.errors import ConfigError
from edgelab.policy.waf.engine import EngineOptions, WafEngine, WafVerdict
from edgelab.policy.waf.exclusions import (
    Exclusion,
    ExclusionSet,
    canonical_target,
    check_known,
    normalized_path,
)
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import Ruleset, load_default_ruleset, parse_ruleset

XSS = "<script>alert(document.cookie)</script>"
SQLI = "1' OR '1'='1' --"


def managed() -> Ruleset:
    return load_default_ruleset()


def xss_rule_ids() -> set[int]:
    return {r.id for r in managed().all_rules() if "xss" in r.tags}


def form(path: str, fields: dict[str, str], **headers: str) -> WafRequest:
    body = urlencode(fields).encode()
    h = {"Host": "shop.example.com", "Content-Type": "application/x-www-form-urlencoded"}
    req = WafRequest.build("POST", path, "", {**h, **headers})
    req.set_body(body, truncated=False)
    return req


def verdict(engine: WafEngine, req: WafRequest) -> WafVerdict:
    st = engine.start()
    engine.run(req, "headers", 0.0, st)
    return engine.evaluate(req, "body", 0.0, st)


def engine_with(*exclusions: Exclusion, engine: str = "re2") -> WafEngine:
    return WafEngine(managed(), EngineOptions(regex_engine=engine), exclusions=exclusions)  # type: ignore[arg-type]


# -- targets and validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("args:body", "args:body"),
        ("json:content.html", "args:content.html"),
        ("headers:X-Forwarded-For", "header:x-forwarded-for"),
        ("header:Referer", "header:referer"),
        ("cookie:Session", "cookies:Session"),
        ("cookies:session", "cookies:session"),
        ("args:content.*", "args:content.*"),
        ("files:avatar", "files:avatar"),
        ("body", "body"),
        ("args_names", "args_names"),
    ],
)
def test_targets_are_named_as_the_engine_names_values(spec: str, canonical: str) -> None:
    assert canonical_target(spec) == canonical


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("arg:x", "unknown target"),
        ("args:", "names no value"),
        ("args:a*b", "may only end"),
        ("headers", "unknown target"),
        ("ARGS:x", "unknown target"),
    ],
)
def test_a_bad_target_is_refused_with_its_reason(spec: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        canonical_target(spec)
    with pytest.raises(ValidationError, match=why):
        Exclusion(rules=(941100,), targets=(spec,))


def test_an_exclusion_needs_a_rule_and_sane_scopes() -> None:
    with pytest.raises(ValidationError, match="at least one rule id"):
        Exclusion(path_prefix="/x")
    with pytest.raises(ValidationError, match="must start with"):
        Exclusion(rules=(1,), path_prefix="forum")
    with pytest.raises(ValidationError, match="a host is"):
        Exclusion(rules=(1,), hosts=("a.*.example",))
    ex = Exclusion(rules=(1,), methods=("post",), hosts=("Forum.Example.COM",))
    assert ex.methods == ("POST",) and ex.hosts == ("forum.example.com",)


def test_unknown_rule_ids_and_tags_are_named_by_field() -> None:
    check_known([Exclusion(rules=(941100,), tags=("rce",))], managed(), "exclusions")
    with pytest.raises(ValueError, match=r"^exclusions\.1\.rules: unknown rule id 941999$"):
        check_known(
            [Exclusion(rules=(941100,)), Exclusion(rules=(941999,))], managed(), "exclusions"
        )
    with pytest.raises(ValueError, match=r"^exclusions\.0\.tags: no rule has tag 'css'"):
        check_known([Exclusion(tags=("css",))], managed(), "exclusions")


# -- which requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/community/posts/7", "/community/posts/7"),
        ("/community//posts/./7/", "/community/posts/7"),
        ("/community/posts/7/../8", "/community/posts/8"),
        ("/community/posts/%37", "/community/posts/7"),
        ("/community/posts/../../admin", "/admin"),
        ("/community/posts/..%2f..%2fadmin", "/admin"),
        ("/%2e%2e/etc", None),
        ("/community/posts/%252e%252e/admin", None),
        ("/community/posts;x=1/../../admin", None),
        ("/community\\posts", None),
        ("/community/posts/%00", None),
        ("/community/posts/%ff", None),
    ],
)
def test_paths_are_matched_decoded_and_resolved_or_not_at_all(raw: str, normal: str | None) -> None:
    assert normalized_path(raw) == normal


def test_an_exclusion_applies_only_to_its_path_method_and_host() -> None:
    ex = Exclusion(
        rules=(941100,),
        path_prefix="/community/posts",
        methods=("POST",),
        hosts=("forum.example.com", "*.forum.example.net"),
        targets=("args:body",),
    )
    excl = ExclusionSet.build([ex], managed())
    assert excl is not None

    def applies(method: str, path: str, host: str) -> bool:
        got = excl.for_request(WafRequest.build(method, path, "", {"Host": host}))
        return got is not None and 941100 in got.rules

    assert applies("POST", "/community/posts", "forum.example.com")
    assert applies("post", "/community/posts/7/edit", "FORUM.example.com:8443")
    assert applies("POST", "/community/posts", "eu.forum.example.net")
    assert not applies("POST", "/community/posts", "forum.example.net")  # the parent itself
    assert not applies("POST", "/community/postscript", "forum.example.com")  # segment boundary
    assert not applies("GET", "/community/posts", "forum.example.com")
    assert not applies("POST", "/community/posts", "shop.example.com")
    # a path that only looks like it is under the prefix gets the whole ruleset
    assert not applies("POST", "/community/posts/../../admin", "forum.example.com")
    assert not applies("POST", "/community/posts/%252e%252e/admin", "forum.example.com")
    assert not applies("POST", "/community/posts;a/../../../admin", "forum.example.com")


def test_tags_and_execute_rules_stand_for_the_rules_they_name() -> None:
    excl = ExclusionSet.build([Exclusion(tags=("xss",))], managed())
    assert excl is not None
    got = excl.for_request(WafRequest.build("GET", "/", ""))
    assert got is not None and set(got.rules) == xss_rule_ids()
    assert all(v is None for v in got.rules.values())
    entry = next(r for r in managed().rules if r.execute == "managed")
    excl = ExclusionSet.build([Exclusion(rules=(entry.id,))], managed())
    assert excl is not None
    got = excl.for_request(WafRequest.build("GET", "/", ""))
    assert got is not None and set(got.rules) == {r.id for r in managed().groups["managed"]}


def test_exclusions_for_the_same_rule_add_up_and_a_whole_one_wins() -> None:
    a = Exclusion(rules=(941100,), targets=("args:body",))
    b = Exclusion(rules=(941100,), path_prefix="/wiki", targets=("args:content.*",))
    c = Exclusion(rules=(941100,), path_prefix="/admin")
    excl = ExclusionSet.build([a, b, c], managed())
    assert excl is not None
    wiki = excl.for_request(WafRequest.build("POST", "/wiki/x", ""))
    assert wiki is not None
    hidden = wiki.rules[941100]
    assert hidden is not None
    assert hidden.hides("args:body") and hidden.hides("args:content.html")
    assert not hidden.hides("args:title") and not hidden.hides("args:content")
    admin = excl.for_request(WafRequest.build("POST", "/admin", ""))
    assert admin is not None and admin.rules[941100] is None
    assert ExclusionSet.build([], managed()) is None


# -- the engine honours them -----------------------------------------------------------------


@pytest.mark.parametrize("regex_engine", ["re2", "re"])
def test_an_excluded_value_passes_and_the_rules_still_see_every_other(regex_engine: str) -> None:
    """The forum's post body is hidden from the XSS rules (regex scans and libinjection both);
    the same payload in the post's title, on another path, or as SQL in the body still blocks."""
    plain = engine_with(engine=regex_engine)
    ex = Exclusion(tags=("xss",), path_prefix="/community/posts", targets=("args:body",))
    excl = engine_with(ex, engine=regex_engine)
    post = form("/community/posts", {"title": "Question", "body": XSS})
    assert verdict(plain, post).blocked
    assert not verdict(excl, form("/community/posts", {"title": "Question", "body": XSS})).blocked
    title = verdict(excl, form("/community/posts", {"title": XSS, "body": "fine"}))
    assert title.blocked and {m.target for m in title.matches} == {"args:title"}
    assert verdict(excl, form("/contact", {"title": "Question", "body": XSS})).blocked
    sqli = verdict(excl, form("/community/posts", {"title": "Question", "body": SQLI}))
    assert sqli.blocked and {m.rule_id for m in sqli.matches}.isdisjoint(xss_rule_ids())


def test_whole_rules_off_json_fields_by_prefix_headers_and_cookies() -> None:
    cms = Exclusion(
        tags=("xss",), path_prefix="/admin/settings", targets=("json:settings.header_scripts*",)
    )
    xff = Exclusion(tags=("sqli",), targets=("headers:Referer", "cookie:prefs"))
    hook = Exclusion(tags=("xss",), path_prefix="/hooks/", methods=("POST",))
    plain, engine = engine_with(), engine_with(cms, xff, hook)
    doc = {"settings": {"header_scripts_head": XSS, "footer": "ok"}}
    for e, blocked in ((plain, True), (engine, False)):
        req = WafRequest.build("PUT", "/admin/settings", "", {"Content-Type": "application/json"})
        req.set_body(json.dumps(doc).encode(), truncated=False)
        assert verdict(e, req).blocked is blocked
    doc = {"settings": {"header_scripts_head": "ok", "footer": XSS}}
    req = WafRequest.build("PUT", "/admin/settings", "", {"Content-Type": "application/json"})
    req.set_body(json.dumps(doc).encode(), truncated=False)
    assert verdict(engine, req).blocked
    quoted = "1%27%20OR%20%271%27%3D%271"
    for headers in ({"Referer": SQLI}, {"Cookie": f"prefs={quoted}"}):
        assert verdict(plain, WafRequest.build("GET", "/", "", headers)).blocked
        assert not verdict(engine, WafRequest.build("GET", "/", "", headers)).blocked
    for headers in ({"User-Agent": SQLI}, {"Cookie": f"sid={quoted}"}):
        assert verdict(engine, WafRequest.build("GET", "/", "", headers)).blocked
    assert verdict(plain, form("/hooks/github", {"body": XSS})).blocked
    assert not verdict(engine, form("/hooks/github", {"body": XSS})).blocked
    assert verdict(engine, form("/hooks/github", {"body": SQLI})).blocked


def test_no_exclusion_applying_gives_the_same_verdicts_as_none_configured() -> None:
    from edgelab.testing.waf_corpus import attacks, benign, evaluate

    plain = engine_with()
    elsewhere = engine_with(
        Exclusion(tags=("xss", "sqli", "rce"), path_prefix="/nowhere", targets=("args:q",)),
        Exclusion(rules=(941100,), hosts=("forum.example.org",)),
    )
    sample = attacks()[::7] + benign()[::7]
    for r in sample:
        a, b = evaluate(plain, r), evaluate(elsewhere, r)
        assert (a.blocked, a.rule_id, a.matches) == (b.blocked, b.rule_id, b.matches), r.note


def test_exclusions_survive_killswitches_and_come_with_a_pushed_document() -> None:
    ex = Exclusion(tags=("xss",), targets=("args:body",))
    engine = engine_with(ex).with_killed([942100])
    assert engine.exclusions == (ex,) and engine.killed == {942100}
    assert not verdict(engine, form("/p", {"body": XSS})).blocked
    assert verdict(engine.with_exclusions(()), form("/p", {"body": XSS})).blocked
    doc = {
        "ruleset": {"name": "site", "extends": "managed"},
        "rules": [],
        "exclusions": [{"tags": ["xss"], "path_prefix": "/p", "targets": ["args:body"]}],
    }
    ruleset = parse_ruleset(json.dumps(doc), "waf-rules v3")
    pushed = WafEngine(ruleset, EngineOptions())
    assert not verdict(pushed, form("/p", {"body": XSS})).blocked
    assert verdict(pushed, form("/q", {"body": XSS})).blocked
    doc["exclusions"] = [{"rules": [941999]}]
    with pytest.raises(ConfigError, match=r"waf-rules v3: .*exclusions\.0\.rules: unknown rule"):
        parse_ruleset(json.dumps(doc), "waf-rules v3")
    doc["exclusions"] = [{"rules": [941100], "targets": ["argz:x"]}]
    with pytest.raises(ConfigError, match=r"waf-rules v3: exclusions\.0\.targets: .*unknown"):
        parse_ruleset(json.dumps(doc), "waf-rules v3")


@pytest.mark.parametrize(
    ("exclusion", "message"),
    [
        ("{rules: [941999]}", "edge.yaml: waf.exclusions: 0.rules: unknown rule id 941999"),
        ("{tags: [css]}", "edge.yaml: waf.exclusions: 0.tags: no rule has tag 'css'"),
        (
            "{rules: [941100], targets: ['argz:body']}",
            "edge.yaml: waf.exclusions.0.targets: Value error, unknown target 'argz:body'",
        ),
    ],
)
def test_a_bad_exclusion_in_the_edge_config_is_one_line_naming_file_and_field(
    tmp_path: Path, exclusion: str, message: str
) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(f"origin: http://127.0.0.1:1\nwaf:\n  exclusions:\n    - {exclusion}\n")
    with pytest.raises(ConfigError) as e:
        load_model(path, EdgeConfig)
    assert str(e.value).startswith(f"{path.parent}/{message}") and "\n" not in str(e.value)
    good = "{rules: [941100], path_prefix: /p, targets: ['headers:X-A']}"
    path.write_text(f"origin: http://127.0.0.1:1\nwaf:\n  exclusions:\n    - {good}\n")
    assert load_model(path, EdgeConfig).waf.exclusions[0].targets == ("header:x-a",)


def test_the_corpus_sites_exclusion_file_loads_and_each_entry_applies_on_its_path() -> None:
    """`benchmarks/waf_exclusions.yaml` (waf_eval's `--exclusions`) stays valid as the rules
    change: every id and tag exists, and each entry applies to a request on its own path."""
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "waf_exclusions.yaml"
    exclusions = load_model(path, WafOptions).exclusions
    assert len(exclusions) >= 3
    for ex in exclusions:
        excl = ExclusionSet.build([ex], managed())
        assert excl is not None and ex.path_prefix is not None
        req = WafRequest.build(ex.methods[0] if ex.methods else "POST", ex.path_prefix, "")
        got = excl.for_request(req)
        assert got is not None and got.rules
        assert all(v is not None for v in got.rules.values())


def test_a_request_evaluated_between_anothers_two_phases_does_not_mix_their_exclusions() -> None:
    """The stage awaits a body between the phases, so another request can be evaluated in
    between: each request's phases see its own exclusions (the engine remembers the last
    request's answer, never another's)."""
    engine = engine_with(Exclusion(tags=("xss",), path_prefix="/community/posts"))
    post = form("/community/posts", {"body": XSS})
    elsewhere = form("/contact", {"body": XSS})
    st_post, st_else = engine.start(), engine.start()
    engine.run(post, "headers", 0.0, st_post)
    engine.run(elsewhere, "headers", 0.0, st_else)
    assert engine.run(elsewhere, "body", 0.0, st_else) and st_else.blocked_by is not None
    engine.run(post, "body", 0.0, st_post)
    assert st_post.blocked_by is None and not st_post.matches
    again = form("/contact", {"body": XSS})
    assert verdict(engine, again).blocked
