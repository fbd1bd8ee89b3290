"""Plain HTTP answers with a body of our own (health, metrics, the page). Typed by what a
connection and its response look like, so that only `server` imports websockets.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from http import HTTPStatus
from typing import Protocol, TypeVar


class Response(Protocol):
    """What `respond` changes in a websockets ``Response``."""

    body: bytes | bytearray

    @property
    def headers(self) -> MutableMapping[str, str]: ...


R = TypeVar("R", bound=Response)
R_co = TypeVar("R_co", bound=Response, covariant=True)


class Responder(Protocol[R_co]):
    """A connection that makes plain-text responses (websockets' ``ServerConnection``)."""

    def respond(self, status: HTTPStatus, text: str) -> R_co: ...


def respond(
    connection: Responder[R],
    status: HTTPStatus,
    content_type: str,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> R:
    """A response with exactly ``body`` (and its type and length): websockets' own `respond`
    makes plain-text ones only. ``headers`` default to no caching."""
    response = connection.respond(status, "")
    del response.headers["Content-Type"]
    del response.headers["Content-Length"]
    response.headers["Content-Type"] = content_type
    response.headers["Content-Length"] = str(len(body))
    response.body = body
    for name, value in (headers or {"Cache-Control": "no-store"}).items():
        response.headers[name] = value
    return response
