"""The client-side bypass paths, doing the I/O the pure `edgelab.loadgen.paths` decides.

    door = Door(user, targets, rng)
    status = door.send("GET", "/page/3", headers={...})   # resolves, sends, retries, records

One `send` is one request as the user sees it: the first attempt on the path the bypass picks
(`none`: CDN A; `dns-failover`/`multi-cdn`: where steering's TTL-cached answer says;
`retry-direct`: CDN A, then once at the origin on a 5xx), then retries per the retry policy.
Every attempt is one Locust request event whose `context` carries the requests.csv columns
(`route`, `path`, `attack`, `attempt`, `final`); the locustfile's listener writes them.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import gevent
from locust import User

from edgelab.loadgen.paths import Answer, Attempt, PathChooser
from edgelab.loadgen.profiles import is_failure
from edgelab.loadgen.targets import Targets
from edgelab.origin.routes import route_class

logger = logging.getLogger(__name__)

RESOLVE_NAME = "steering"
"""Locust stats name of steering lookups (request type RESOLVE); not rows of requests.csv."""


class Door:
    """One user's way in: path choice, steering lookups, attempts, retries."""

    def __init__(self, user: User, targets: Targets, rng: random.Random) -> None:
        self.user = user
        self.targets = targets
        self.chooser = PathChooser(targets, rng)
        self.client: Any = getattr(user, "client")  # noqa: B009  FastHttpSession or HttpSession

    def send(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        attack: str | None = None,
    ) -> int:
        """Make one request (with its retries); returns the status the user finally saw."""
        route = route_class(path.partition("?")[0])
        profile = getattr(self.user, "profile", "browser")
        self._resolve_if_due()
        target = self.chooser.first(time.time())
        attempts: list[Attempt] = []
        while True:
            context = {
                "route": route,
                "path": target.path,
                "attack": 1 if attack else 0,
                "attempt": len(attempts) + 1,
                "final": 1,
            }
            with self.client.request(
                method,
                target.url + path,
                name=route,
                data=body,
                headers=headers,
                catch_response=True,
                context=context,
            ) as resp:
                status = int(resp.status_code or 0)
                attempts.append(Attempt(target.path, status))
                step = self.chooser.next_attempt(attempts, time.time())
                # The request event fires when this block exits, so `final` is settled here.
                resp.request_meta["context"]["final"] = 0 if step else 1
                if is_failure(profile, status):
                    error = getattr(resp, "error", None)
                    resp.failure(f"{target.path}: {error or f'HTTP {status}'}")
                else:
                    resp.success()
            if step is None:
                return status
            if step.delay_s > 0:
                gevent.sleep(step.delay_s)
            if step.kind == "retry":
                self._resolve_if_due()
                target = self.chooser.first(time.time())
            else:
                target = step.route

    def _resolve_if_due(self) -> None:
        now = time.time()
        if not self.chooser.needs_resolve(now):
            return
        steering = self.targets.steering
        assert steering is not None  # a steered bypass has a steering section (validated)
        url = f"{steering.url}/resolve?service={quote(steering.service)}"
        started, perf = time.time(), time.perf_counter()
        error: Exception | None = None
        try:
            with urllib.request.urlopen(url, timeout=steering.timeout_s) as r:  # noqa: S310
                data = json.loads(r.read())
            answer = Answer(str(data["target"]), tuple(data["urls"]), float(data["ttl_s"]))
            self.chooser.resolved(answer, time.time())
        except (OSError, ValueError, KeyError, TypeError) as e:
            error = e
            self.chooser.resolve_failed(time.time())
        self.user.environment.events.request.fire(
            request_type="RESOLVE",
            name=RESOLVE_NAME,
            response_time=(time.perf_counter() - perf) * 1000,
            response_length=0,
            response=None,
            context={},
            exception=error,
            start_time=started,
            url=url,
        )
