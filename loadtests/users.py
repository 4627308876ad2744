"""One Locust user class per traffic profile: browser, api, attacker, bot.

    locust -f loadtests/locustfile.py BrowserUser BotUser     # only these profiles
    --edgelab-mix browser=6,api=3,attacker=1,bot=1             # or weights from the command line

All are `FastHttpUser`s (geventhttpclient: several times the requests per CPU of `HttpUser`),
because a surge must be limited by the origin, not by the load generator. Each request goes
through `Door.send`, which picks the path, retries and records the attempt. Request names are
route classes (`page`, `static`, `api`, `search`, `login`), so stats read well.
"""

from __future__ import annotations

import itertools
import random
import secrets
from typing import ClassVar

from locust import FastHttpUser, task

from edgelab.loadgen.agents import API_UA, ATTACKER_UAS, BOT_UAS, BROWSER_UAS
from edgelab.loadgen.attacks import AttackCatalogue, load_attacks
from edgelab.loadgen.profiles import Profile
from edgelab.loadgen.targets import Targets
from loadtests.bypass import Door

_numbers = itertools.count(1)

SEARCH_TERMS = ("shoes", "red dress", "laptop 16gb", "gift ideas", "return policy", "sale")
PAGES = 200
"""Distinct pages; browsers favour low ids (a few pages get most views, as on real sites)."""


class EdgelabUser(FastHttpUser):
    """Common plumbing: the targets, a seeded rng, the door, think time."""

    abstract = True
    profile: ClassVar[Profile]
    targets: ClassVar[Targets]
    """Set by the locustfile's init listener from --edgelab-targets."""
    think_s: ClassVar[tuple[float, float]] = (1.0, 3.0)
    """Seconds between tasks, before the targets' `think_time_scale`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        number = next(_numbers)
        seed = self.targets.seed
        self.rng = random.Random(None if seed is None else seed * 100_003 + number)
        self.door = Door(self, self.targets, self.rng)

    def context(self) -> dict[str, str]:
        return {"user": self.profile}

    def wait_time(self) -> float:
        low, high = self.think_s
        return self.rng.uniform(low, high) * self.targets.think_time_scale


class BrowserUser(EdgelabUser):
    """A person: a page, then its static assets, then a pause to read."""

    profile = "browser"
    weight = 6

    def on_start(self) -> None:
        self.headers = {
            "User-Agent": self.rng.choice(BROWSER_UAS),
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-US,en;q=0.9",
            "Cookie": f"session={secrets.token_hex(8)}",
        }

    @task
    def visit(self) -> None:
        page = min(int(self.rng.paretovariate(1.2)), PAGES)
        status = self.door.send("GET", f"/page/{page}", headers=self.headers)
        if status >= 400 or status == 0:
            return
        assets = ["/static/css/site.css", "/static/js/app.js", f"/static/img/hero-{page % 20}.jpg"]
        assets += [f"/static/img/thumb-{self.rng.randint(1, 60)}.jpg" for _ in range(2)]
        for asset in assets:
            self.door.send("GET", asset, headers=self.headers)


class ApiUser(EdgelabUser):
    """A mobile app or partner integration: JSON reads, searches, some writes."""

    profile = "api"
    weight = 3
    think_s = (0.2, 1.0)

    def on_start(self) -> None:
        self.headers = {
            "User-Agent": API_UA,
            "Accept": "application/json",
            "Authorization": f"Bearer {secrets.token_hex(12)}",
        }

    @task(5)
    def item(self) -> None:
        self.door.send("GET", f"/api/items/{self.rng.randint(1, 500)}", headers=self.headers)

    @task(3)
    def search(self) -> None:
        term = self.rng.choice(SEARCH_TERMS).replace(" ", "+")
        self.door.send("GET", f"/search?q={term}", headers=self.headers)

    @task(2)
    def add_to_cart(self) -> None:
        body = f'{{"item": {self.rng.randint(1, 500)}, "qty": {self.rng.randint(1, 3)}}}'
        headers = {**self.headers, "Content-Type": "application/json"}
        self.door.send("POST", "/api/cart", headers=headers, body=body)

    @task(1)
    def login(self) -> None:
        headers = {**self.headers, "Content-Type": "application/x-www-form-urlencoded"}
        self.door.send("POST", "/login", headers=headers, body="username=jo&password=secret")


class AttackerUser(EdgelabUser):
    """Malicious requests from the shipped payload list, each marked `X-Edgelab-Attack`."""

    profile = "attacker"
    weight = 1
    think_s = (0.5, 2.0)
    catalogue: ClassVar[AttackCatalogue | None] = None

    def on_start(self) -> None:
        if AttackerUser.catalogue is None:
            AttackerUser.catalogue = load_attacks()
        self.ua = self.rng.choice(ATTACKER_UAS)

    @task
    def attack(self) -> None:
        assert self.catalogue is not None
        req = self.catalogue.draw(self.rng)
        headers = {"User-Agent": self.ua, **req.headers}
        self.door.send(req.method, req.path, headers=headers, body=req.body, attack=req.category)


class BotUser(EdgelabUser):
    """A scraper: fast, bot-like headers (no cookies, no Accept-Language), crawling in order."""

    profile = "bot"
    weight = 1
    think_s = (0.05, 0.2)

    def on_start(self) -> None:
        self.headers = {"User-Agent": self.rng.choice(BOT_UAS), "Accept": "*/*"}
        self.next_page = self.rng.randint(1, PAGES)

    @task(4)
    def crawl(self) -> None:
        self.door.send("GET", f"/page/{self.next_page}", headers=self.headers)
        self.next_page = self.next_page % PAGES + 1

    @task(1)
    def scrape_search(self) -> None:
        term = self.rng.choice(SEARCH_TERMS).replace(" ", "+")
        self.door.send(
            "GET", f"/search?q={term}&page={self.rng.randint(1, 20)}", headers=self.headers
        )


USER_CLASSES: dict[Profile, type[EdgelabUser]] = {
    "browser": BrowserUser,
    "api": ApiUser,
    "attacker": AttackerUser,
    "bot": BotUser,
}
"""Profile name -> user class (the `user` column of requests.csv is the profile)."""
