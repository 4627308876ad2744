"""Traffic profiles, route classes and what counts as a failure for each profile.

    parse_mix("browser=6,api=3,attacker=1")   # {"browser": 6, "api": 3, "attacker": 1}
    is_failure("attacker", 403)               # False: a blocked attack is the expected answer

The names are the `user` and `route` columns of `requests.csv` (docs/contracts.md).
"""

from __future__ import annotations

from typing import Literal, get_args

from edgelab.errors import ConfigError

Profile = Literal["browser", "api", "attacker", "bot"]
"""One Locust user class per profile (loadtests/users.py)."""
PROFILES: tuple[Profile, ...] = get_args(Profile)

RouteClass = Literal["static", "page", "api", "search", "login", "other"]
"""Request names in Locust's stats are route classes, never single URLs."""

DEFAULT_MIX: dict[Profile, int] = {"browser": 6, "api": 3, "attacker": 1, "bot": 1}
"""Users spawned per profile in these proportions (Locust user-class weights)."""


def is_failure(profile: str, status: int) -> bool:
    """A failure in Locust's stats: no answer (0), any 5xx, and 4xx for real users only.

    Attackers and bots being answered 403/429 is the WAF and bot management doing their job;
    a browser or API client getting a 4xx is a false positive, and so a failure.
    """
    if status == 0 or status >= 500:
        return True
    return status >= 400 and profile in ("browser", "api")


def parse_mix(text: str, source: str = "--edgelab-mix") -> dict[Profile, int]:
    """`browser=6,api=3` -> weights; raises ConfigError naming `source` on a bad entry."""
    mix: dict[Profile, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in PROFILES:
            raise ConfigError(
                f"{source}: {part!r} is not profile=weight (profiles: {', '.join(PROFILES)})"
            )
        try:
            weight = int(value)
        except ValueError:
            weight = -1
        if weight < 0:
            raise ConfigError(f"{source}: weight of {name} must be a whole number >= 0")
        mix[name] = weight
    if not any(mix.values()):
        raise ConfigError(f"{source}: at least one profile needs a weight above 0")
    return mix
