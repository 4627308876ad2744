"""The WAF as pure code: rules are data, the engine decides, the edge stage only applies.

ruleset = load_default_ruleset()
engine = WafEngine(ruleset, EngineOptions(paranoia_level=1, regex_engine="re2"))
verdict = engine.evaluate(WafRequest.build("GET", "/search", "q=1' or '1'='1"), now=0.0)
verdict.blocked, verdict.rule_id   # True, 949110 (anomaly score over the threshold)
"""
