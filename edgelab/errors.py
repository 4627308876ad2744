"""The few error types edgelab raises on purpose.

Each also inherits the builtin it means, so callers may catch either:

    try:
        load_profile(path)
    except ConfigError as e:      # or ValueError
        print(e)                  # one line naming the file, field and reason

The CLI turns every `EdgelabError` into that one line and an exit code; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class EdgelabError(Exception):
    """Root of the errors a user can cause; the message is one line for a human."""

    exit_code = 2


class ConfigError(EdgelabError, ValueError):
    """A config, profile, lab or experiment file (or a flag) is invalid."""


class PortInUse(EdgelabError, OSError):
    """A listener could not bind its address because something else holds it."""


class UpstreamError(EdgelabError, ConnectionError):
    """The origin could not be reached or broke the connection; answered 502.

    `status` is the HTTP status the edge answers with.
    """

    status = 502


class UpstreamTimeout(UpstreamError, TimeoutError):
    """The origin did not connect or answer in time; answered 504."""

    status = 504


class RequestRejected(EdgelabError, ValueError):
    """The client's request cannot be forwarded as sent (a malformed or interrupted body...).

    Answered with `status`, logged in one line: the client's mistake, not a bug of ours.
    """

    status = 400


class RequestBodyTooLarge(RequestRejected):
    """The request body grew past `client.max_request_body_bytes` while streaming; answered 413."""

    status = 413


class RequestTimeout(RequestRejected):
    """The client stopped sending its request body for `client.body_timeout_s`; answered 408."""

    status = 408


class ProcessFailed(EdgelabError, RuntimeError):
    """A process the lab started exited, or did not become healthy in time."""
