"""The errors the Toxiproxy API answers with; `api.py` maps each type to its status.

    raise ProxyNotFound()          # -> 404 {"error": "proxy not found", "status": 404}

Messages are Toxiproxy's own (api.go `Err*`), so clients that match on them keep working.
"""

from __future__ import annotations


class FaultProxyError(Exception):
    """An error with a Toxiproxy message; any other subclass-less one is a 500."""

    message = "internal error"
    prefixed = False
    """True: a detail is appended to the message (`bad request body: EOF`); else it replaces it."""

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """The `error` string of the response body."""
        if self.detail is None:
            return self.message
        return f"{self.message}: {self.detail}" if self.prefixed else self.detail


class BadRequestBody(FaultProxyError):
    """The body is not JSON or a field has the wrong type."""

    message = "bad request body"
    prefixed = True


class MissingField(FaultProxyError):
    """`name` or `upstream` is missing or empty."""

    message = "missing required field"
    prefixed = True


class InvalidStream(FaultProxyError):
    message = "stream was invalid, can be either upstream or downstream"


class InvalidToxicType(FaultProxyError):
    message = "invalid toxic type"


class ProxyNotFound(FaultProxyError):
    message = "proxy not found"


class ToxicNotFound(FaultProxyError):
    message = "toxic not found"


class ProxyExists(FaultProxyError):
    message = "proxy already exists"


class ToxicExists(FaultProxyError):
    message = "toxic already exists"


class ListenError(FaultProxyError):
    """The proxy could not listen (address in use, bad address); Toxiproxy answers 500."""
