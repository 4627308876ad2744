"""Drive any Toxiproxy server (edgelab's or the real one) through the toxiproxy-python client.

    client = FaultProxyClient("http://127.0.0.1:8474")
    client.ensure_proxy("origin", listen="127.0.0.1:26000", upstream="127.0.0.1:8080")
    client.add_toxic("origin", "latency", attributes={"latency": 300}, name="slow")
    client.update_toxic("origin", "slow", attributes={"latency": 600})
    client.remove_toxic("origin", "slow")
    with client.down("origin"): ...            # disabled inside, enabled again after
    client.reset()

The chaos runner and experiments use only this layer, so they never care which server runs.
Calls block (toxiproxy-python uses `requests`): from a coroutine, use `asyncio.to_thread`.
toxiproxy-python keeps host and port on a class (`APIConsumer`), so every call here sets them
under one lock, and clients for several servers can be used from several threads. Where the
library has no call (toxic update, toxic listing by name) or does not check the status (it
raises for 400/404/409 only), this module uses the library's own `APIConsumer` and checks.
Every failure is a `ToxiproxyError` with the server's status and message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from edgelab.errors import EdgelabError

_LOCK = threading.RLock()
"""toxiproxy-python's host and port are class-level: one caller at a time."""


class ToxiproxyError(EdgelabError, RuntimeError):
    """The Toxiproxy server refused a call; `status` is its HTTP status (0: unreachable)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _message(raw: Any) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    try:
        import json

        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text.strip()


class FaultProxyClient:
    """A Toxiproxy server at `api` (`http://host:port` or `host:port`)."""

    def __init__(self, api: str) -> None:
        parts = urlsplit(api if "//" in api else f"http://{api}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"toxiproxy address {api!r}: expected http://host:port")
        self.host, self.port = parts.hostname, parts.port
        self._server = Toxiproxy()

    @contextmanager
    def _bound(self) -> Iterator[Toxiproxy]:
        """Point toxiproxy-python at this server; map its errors to ToxiproxyError."""
        import requests

        with _LOCK:
            self._server.update_api_consumer(self.host, self.port)
            try:
                yield self._server
            except ProxyExists as e:
                raise ToxiproxyError(_message(e.args[0] if e.args else e), 409) from e
            except NotFound as e:
                raise ToxiproxyError(_message(e.args[0] if e.args else e), 404) from e
            except InvalidToxic as e:
                raise ToxiproxyError(_message(e.args[0] if e.args else e), 400) from e
            except requests.RequestException as e:
                raise ToxiproxyError(f"toxiproxy at {self.host}:{self.port}: {e}") from e

    @staticmethod
    def _checked(response: Any) -> Any:
        if response.status_code >= 400:
            raise ToxiproxyError(_message(response.content), response.status_code)
        return response

    # -- server ----------------------------------------------------------------------------

    def running(self) -> bool:
        """True if something accepts connections on the API port."""
        with self._bound() as server:
            return bool(server.running())

    def version(self) -> str:
        with self._bound() as server:
            raw = server.version()
        return raw.decode().strip() if isinstance(raw, bytes) else str(raw)

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        with self._bound():
            self._checked(APIConsumer.post("/reset"))

    # -- proxies ---------------------------------------------------------------------------

    def proxies(self) -> dict[str, dict[str, Any]]:
        """name -> proxy JSON (name, listen, upstream, enabled, toxics)."""
        with self._bound():
            data: dict[str, dict[str, Any]] = self._checked(APIConsumer.get("/proxies")).json()
        return data

    def proxy(self, name: str) -> dict[str, Any]:
        """One proxy's JSON; ToxiproxyError 404 if absent."""
        with self._bound():
            data: dict[str, Any] = self._checked(APIConsumer.get(f"/proxies/{name}")).json()
        return data

    def ensure_proxy(
        self, name: str, listen: str, upstream: str, enabled: bool = True
    ) -> dict[str, Any]:
        """The proxy `name` forwarding `listen` -> `upstream`, created or replaced as needed.

        An existing proxy with the same upstream and listen (port 0 matches any) is kept with
        its toxics, and enabled or disabled as asked. Returns its JSON (the bound `listen`).
        """
        with self._bound() as server:
            existing = server.get_proxy(name)
            if existing is not None and (
                existing.upstream != upstream or not _same_listen(existing.listen, listen)
            ):
                existing.destroy()
                existing = None
            if existing is None:
                body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
                created: dict[str, Any] = self._checked(
                    APIConsumer.post("/proxies", json=body)
                ).json()
                return created
            if existing.enabled != enabled:
                self._set_enabled(name, enabled)
        return self.proxy(name)

    def delete_proxy(self, name: str) -> None:
        with self._bound():
            self._checked(APIConsumer.delete(f"/proxies/{name}"))

    def _set_enabled(self, name: str, enabled: bool) -> None:
        with self._bound():
            self._checked(APIConsumer.post(f"/proxies/{name}", json={"enabled": enabled}))

    def disable(self, name: str) -> None:
        """Take the proxy down: listener closed, open connections dropped."""
        self._set_enabled(name, False)

    def enable(self, name: str) -> None:
        self._set_enabled(name, True)

    @contextmanager
    def down(self, name: str) -> Iterator[None]:
        """The proxy disabled inside the block, enabled again after (also on error)."""
        self.disable(name)
        try:
            yield
        finally:
            self.enable(name)

    # -- toxics ----------------------------------------------------------------------------

    def toxics(self, proxy: str) -> dict[str, dict[str, Any]]:
        """name -> toxic JSON for one proxy."""
        with self._bound():
            data = self._checked(APIConsumer.get(f"/proxies/{proxy}/toxics")).json()
        return {t["name"]: t for t in data}

    def add_toxic(
        self,
        proxy: str,
        type: str,
        stream: str = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a toxic through toxiproxy-python's `Proxy.add_toxic`; returns the server's JSON."""
        name = name or f"{type}_{stream}"
        with self._bound() as server:
            target = server.get_proxy(proxy)
            if target is None:
                raise ToxiproxyError("proxy not found", 404)
            target.add_toxic(
                type=type,
                stream=stream,
                name=name,
                toxicity=toxicity,
                attributes=attributes or {},
            )
        return self.toxics(proxy)[name]

    def update_toxic(
        self,
        proxy: str,
        name: str,
        attributes: dict[str, Any] | None = None,
        toxicity: float | None = None,
    ) -> dict[str, Any]:
        """Change some attributes and/or the toxicity of a toxic (others keep their values)."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = attributes
        if toxicity is not None:
            body["toxicity"] = toxicity
        with self._bound():
            response = APIConsumer.post(f"/proxies/{proxy}/toxics/{name}", json=body)
            data: dict[str, Any] = self._checked(response).json()
        return data

    def remove_toxic(self, proxy: str, name: str) -> None:
        with self._bound():
            self._checked(APIConsumer.delete(f"/proxies/{proxy}/toxics/{name}"))


def _same_listen(bound: str, wanted: str) -> bool:
    """`wanted` names the address `bound` reports (port 0 = whatever was bound)."""
    b_host, _, b_port = bound.rpartition(":")
    w_host, _, w_port = wanted.rpartition(":")
    loopback = {"localhost", "127.0.0.1"}
    same_host = b_host == w_host or (b_host in loopback and w_host in loopback)
    return same_host and w_port in ("0", b_port)
