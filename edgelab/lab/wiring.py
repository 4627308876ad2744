"""Create the lab's links on a Toxiproxy server through its REST API (embedded or the real one).

    proxies = await populate("http://127.0.0.1:8474", [("origin-direct", "127.0.0.1:4100", "127.0.0.1:8080")])
    proxies["origin-direct"]["listen"]          # "127.0.0.1:4100"

`/populate` is idempotent: a proxy that already exists with the same listen and upstream is
left alone, so the same call re-creates the links after a Toxiproxy restart.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import aiohttp

from edgelab.errors import EdgelabError


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel's pick), for a proxy's `listen`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """True if host:port can be bound now (a fixed port from a lab file is not taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


async def populate(
    api_url: str, proxies: Sequence[tuple[str, str, str]], timeout_s: float = 10.0
) -> dict[str, dict[str, Any]]:
    """POST `/populate` with (name, listen, upstream) triples; name -> proxy JSON.

    Raises EdgelabError with Toxiproxy's own error text when it refuses.
    """
    body = [
        {"name": n, "listen": listen, "upstream": up, "enabled": True} for n, listen, up in proxies
    ]
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # Toxiproxy refuses browser user agents; say who we are
    headers = {"User-Agent": "edgelab-lab"}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, headers=headers) as http,
            http.post(f"{api_url}/populate", json=body) as resp,
        ):
            text = await resp.text()
            if resp.status != 201:
                raise EdgelabError(
                    f"toxiproxy {api_url}: /populate answered {resp.status}: {text.strip()[:200]}"
                )
            data = await resp.json(content_type=None)
    except aiohttp.ClientError as e:
        raise EdgelabError(f"toxiproxy {api_url}: {e}") from e
    return {p["name"]: p for p in data.get("proxies") or []}
