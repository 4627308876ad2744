"""The Toxiproxy 2.x REST API over a `ProxyCollection`, as an aiohttp application.

    app = toxiproxy_app(ProxyCollection(random.Random()), registry)
    # GET /proxies, POST /proxies, GET|POST|PATCH|DELETE /proxies/{proxy},
    # GET|POST /proxies/{proxy}/toxics, GET|POST|PATCH|DELETE /proxies/{proxy}/toxics/{toxic},
    # POST /populate, POST /reset, GET /version, plus /healthz and /metrics

Same paths, JSON shapes, status codes and error bodies as Toxiproxy's `api.go`, so its clients
(toxiproxy-python, the Go and Node clients, chaostoolkit-toxiproxy) work unchanged. `STATUS` is
the one table from error type to HTTP status; anything else that goes wrong is a 500 whose
`error` is the message, and the server and the other proxies keep working.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from edgelab.faultproxy.collection import PopulateError, ProxyCollection
from edgelab.faultproxy.errors import (
    BadRequestBody,
    FaultProxyError,
    InvalidStream,
    InvalidToxicType,
    ListenError,
    MissingField,
    ProxyExists,
    ProxyNotFound,
    ToxicExists,
    ToxicNotFound,
)
from edgelab.serving import observability_routes

logger = logging.getLogger(__name__)

VERSION = "2.12.0"
"""The Toxiproxy API level this server speaks (reported by /version)."""

STATUS: dict[type[FaultProxyError], int] = {
    BadRequestBody: 400,
    MissingField: 400,
    InvalidStream: 400,
    InvalidToxicType: 400,
    ProxyNotFound: 404,
    ToxicNotFound: 404,
    ProxyExists: 409,
    ToxicExists: 409,
    ListenError: 500,
}
"""Error type -> HTTP status (toxiproxy `api.go` `ApiError`s); unlisted errors are 500."""

COLLECTION = web.AppKey("collection", ProxyCollection)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def status_of(error: FaultProxyError) -> int:
    return STATUS.get(type(error), 500)


def error_response(status: int, message: str) -> web.Response:
    """Go's `http.Error` with a JSON body: text/plain, nosniff, trailing newline."""
    body = json.dumps({"error": message, "status": status}) + "\n"
    resp = web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data).encode(), content_type="application/json"
    )


async def read_json(request: web.Request) -> Any:
    """The decoded body; raises BadRequestBody with a Go-like decoder message."""
    raw = await request.read()
    if not raw.strip():
        raise BadRequestBody("EOF")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequestBody(f"invalid JSON: {e}") from e


@web.middleware
async def toxiproxy_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browser guard, request id, and every error turned into Toxiproxy's error body."""
    request_id = uuid.uuid4().hex[:20]
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        resp: web.StreamResponse = web.Response(
            status=403, text="User agent not allowed\n", content_type="text/plain"
        )
    else:
        try:
            resp = await handler(request)
        except FaultProxyError as e:
            resp = error_response(status_of(e), e.text)
        except web.HTTPNotFound:
            resp = web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        except web.HTTPMethodNotAllowed:
            resp = web.Response(status=405)
        except web.HTTPException:
            raise
        except Exception as e:
            logger.exception("%s %s failed", request.method, request.path)
            resp = error_response(500, str(e) or type(e).__name__)
    resp.headers["X-Toxiproxy-Request-Id"] = request_id
    return resp


async def list_proxies(request: web.Request) -> web.Response:
    proxies = request.app[COLLECTION].proxies
    return json_response({name: p.to_json() for name, p in proxies.items()})


async def create_proxy(request: web.Request) -> web.Response:
    proxy = await request.app[COLLECTION].create(await read_json(request))
    return json_response(proxy.to_json(), 201)


async def populate(request: web.Request) -> web.Response:
    """Errors here are JSON with the proxies done so far, as `api.go` `Populate` writes them."""
    collection = request.app[COLLECTION]
    try:
        proxies = await collection.populate(await read_json(request))
    except PopulateError as e:
        status = status_of(e.cause)
        done = [p.to_json() for p in e.done] or None
        return json_response({"error": e.text, "status": status, "proxies": done}, status)
    except FaultProxyError as e:
        status = status_of(e)
        return json_response({"error": e.text, "status": status, "proxies": None}, status)
    return json_response({"proxies": [p.to_json() for p in proxies] or None}, 201)


async def get_proxy(request: web.Request) -> web.Response:
    proxy = request.app[COLLECTION].get(request.match_info["proxy"])
    return json_response(proxy.to_json())


async def update_proxy(request: web.Request) -> web.Response:
    collection = request.app[COLLECTION]
    name = request.match_info["proxy"]
    collection.get(name)  # 404 before 400, as toxiproxy checks
    proxy = await collection.update(name, await read_json(request))
    return json_response(proxy.to_json())


async def delete_proxy(request: web.Request) -> web.Response:
    await request.app[COLLECTION].delete(request.match_info["proxy"])
    return web.Response(status=204)


async def list_toxics(request: web.Request) -> web.Response:
    proxy = request.app[COLLECTION].get(request.match_info["proxy"])
    return json_response([spec.to_json() for spec in proxy.toxics.all()])


async def create_toxic(request: web.Request) -> web.Response:
    proxy = request.app[COLLECTION].get(request.match_info["proxy"])
    spec = await proxy.toxics.add(await read_json(request))
    return json_response(spec.to_json())


async def get_toxic(request: web.Request) -> web.Response:
    proxy = request.app[COLLECTION].get(request.match_info["proxy"])
    return json_response(proxy.toxics.get(request.match_info["toxic"]).to_json())


async def update_toxic(request: web.Request) -> web.Response:
    proxy = request.app[COLLECTION].get(request.match_info["proxy"])
    name = request.match_info["toxic"]
    proxy.toxics.get(name)
    spec = await proxy.toxics.update(name, await read_json(request))
    return json_response(spec.to_json())


async def delete_toxic(request: web.Request) -> web.Response:
    proxy = request.app[COLLECTION].get(request.match_info["proxy"])
    await proxy.toxics.remove(request.match_info["toxic"])
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    await request.app[COLLECTION].reset()
    return web.Response(status=204)


async def version(_: web.Request) -> web.Response:
    return web.Response(
        body=(json.dumps({"version": VERSION}) + "\n").encode(),
        headers={"Content-Type": "application/json;charset=utf-8"},
    )


def toxiproxy_app(collection: ProxyCollection, registry: CollectorRegistry) -> web.Application:
    """The API application; the caller runs it (and stops the proxies) — see server.py."""
    app = web.Application(middlewares=[toxiproxy_middleware])
    app[COLLECTION] = collection
    app.add_routes(observability_routes(registry, "toxiproxy"))
    app.add_routes(
        [
            web.get("/proxies", list_proxies),
            web.post("/proxies", create_proxy),
            web.post("/populate", populate),
            web.get("/proxies/{proxy}", get_proxy),
            web.post("/proxies/{proxy}", update_proxy),
            web.patch("/proxies/{proxy}", update_proxy),
            web.delete("/proxies/{proxy}", delete_proxy),
            web.get("/proxies/{proxy}/toxics", list_toxics),
            web.post("/proxies/{proxy}/toxics", create_toxic),
            web.get("/proxies/{proxy}/toxics/{toxic}", get_toxic),
            web.post("/proxies/{proxy}/toxics/{toxic}", update_toxic),
            web.patch("/proxies/{proxy}/toxics/{toxic}", update_toxic),
            web.delete("/proxies/{proxy}/toxics/{toxic}", delete_toxic),
            web.post("/reset", reset),
            web.get("/version", version),
        ]
    )
    return app
