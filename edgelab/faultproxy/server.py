"""`edgelab toxiproxy`: the Toxiproxy REST API and the proxies it manages, in one process.

    server = FaultProxyServer(port=0, seed=7, config=[{"name": "db", "listen": "127.0.0.1:0",
                                                       "upstream": "127.0.0.1:5432"}])
    await server.start(); server.addresses["api"]   # http://127.0.0.1:41234
    await server.stop()                              # API closed, every proxy stopped

`config` is Toxiproxy's `-config` JSON (a list of proxies), applied with the same code as
`POST /populate`. One `seed` reaches every toxicity roll, jitter and slice, so a run replays.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from edgelab.errors import ConfigError
from edgelab.faultproxy.api import toxiproxy_app
from edgelab.faultproxy.collection import ProxyCollection, parse_populate
from edgelab.faultproxy.errors import FaultProxyError
from edgelab.faultproxy.metrics import ProxyMetrics
from edgelab.serving import DEFAULT_HOST, DRAIN_TIMEOUT_S, bind_site, is_loopback, url

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8474
"""Toxiproxy's API port."""


def read_config(path: Path) -> Any:
    """The decoded JSON of a Toxiproxy `-config` file; raises ConfigError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: invalid JSON: {e}") from e


class FaultProxyServer:
    """The API listener plus the proxy collection; start()/stop()/addresses like every server."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        seed: int | None = None,
        config: Any = None,
        config_source: str = "config",
    ) -> None:
        self.host, self.port = host, port
        if not is_loopback(host):
            # Toxiproxy's API has no authentication and its clients send none; say so loudly.
            logger.warning(
                "toxiproxy --host %s: the API is reachable beyond loopback and has no token", host
            )
        self.collection = ProxyCollection(random.Random(seed))
        self.registry = CollectorRegistry()
        self.registry.register(ProxyMetrics(self.collection))
        self.app = toxiproxy_app(self.collection, self.registry)
        if config is not None:
            try:
                parse_populate(config)  # refuse a bad file before anything listens
            except FaultProxyError as e:
                raise ConfigError(f"{config_source}: {e.text}") from e
        self.config = config
        self.config_source = config_source
        self._runner: web.AppRunner | None = None

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"api": url(self.host, self.port)}

    async def start(self) -> None:
        """Create the configured proxies, then listen; raises ConfigError or PortInUse.

        A `config` with a bad entry is refused by the constructor already (ConfigError).
        """
        if self.config is not None:
            try:
                await self.collection.populate(self.config)
            except FaultProxyError as e:
                await self.collection.close()
                raise ConfigError(f"{self.config_source}: {e.text}") from e
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=DRAIN_TIMEOUT_S)
        await self._runner.setup()
        try:
            self.port = await bind_site(self._runner, self.host, self.port, "toxiproxy --port")
        except BaseException:
            await self._runner.cleanup()
            await self.collection.close()
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.collection.close()
