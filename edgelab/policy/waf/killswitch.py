"""The `killswitches` artifact, as the WAF reads it (the bot module reads the same document).

    ks = parse_killswitches(b'{"modules": {"waf": false, "bot": false}, "rules": ["100002"]}')
    ks.waf_killed, ks.rules     # False, frozenset({100002})

`modules.<name>: true` switches a whole module off (the 2019-07-02 "global terminate" of the
WAF); `rules` lists WAF rule ids disabled at run time (ids as strings or numbers). Unknown
modules are ignored: they belong to other readers of the document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Killswitches:
    waf_killed: bool = False
    """The whole WAF is switched off."""
    rules: frozenset[int] = frozenset()
    """WAF rule ids switched off."""


def parse_killswitches(content: bytes | str) -> Killswitches:
    """Parse the JSON document; raises ValueError saying what is malformed."""
    try:
        doc = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"killswitches: not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ValueError("killswitches: the document must be a JSON object")
    modules = doc.get("modules", {})
    if not isinstance(modules, dict) or not all(isinstance(v, bool) for v in modules.values()):
        raise ValueError('killswitches: "modules" must map module names to true/false')
    rules = doc.get("rules", [])
    if not isinstance(rules, list):
        raise ValueError('killswitches: "rules" must be a list of rule ids')
    ids: set[int] = set()
    for r in rules:
        if isinstance(r, bool) or not isinstance(r, int | str) or not str(r).strip().isdigit():
            raise ValueError(f'killswitches: "rules" entry {r!r} is not a rule id')
        ids.add(int(r))
    return Killswitches(waf_killed=bool(modules.get("waf", False)), rules=frozenset(ids))
