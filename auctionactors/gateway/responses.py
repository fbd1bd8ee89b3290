"""Plain HTTP answers with a body of our own (health, metrics, the page): `Endpoints`, which the
server asks for every GET or HEAD but ``/ws``. Typed by what a connection and its response look
like, so that only `server` imports websockets.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, MutableMapping
from http import HTTPStatus
from typing import Protocol, TypeVar

from auctionactors.gateway import metrics
from auctionactors.gateway.assets import Assets
from auctionactors.gateway.hub import Hub
from auctionactors.runtime.supervisor import Supervisor


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


class Endpoints:
    """``/healthz``, ``/metrics`` (behind ``metrics_token`` when it is set) and the web page
    (``/`` and ``/static/...``); 404 for any other path."""

    def __init__(
        self, supervisor: Supervisor, hub: Hub, assets: Assets, *, metrics_token: str | None
    ) -> None:
        self.supervisor = supervisor
        self.hub = hub
        self._assets = assets
        self._metrics_token = metrics_token

    def answer(self, connection: Responder[R], path: str, headers: Mapping[str, str]) -> R:
        if path == "/healthz":
            body = metrics.healthz(self.supervisor, self.hub)
            return respond(connection, HTTPStatus.OK, "application/json", body)
        if path == "/metrics":
            if not self._may_read_metrics(headers):
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "a bearer token is needed\n")
                response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
                return response
            text = metrics.render(self.supervisor, self.hub).encode()
            return respond(connection, HTTPStatus.OK, metrics.CONTENT_TYPE, text)
        asset = self._assets.get(path)  # the web page: / and /static/...
        if asset is not None:
            return respond(connection, HTTPStatus.OK, asset.content_type, asset.body, asset.headers)
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    def _may_read_metrics(self, headers: Mapping[str, str]) -> bool:
        token = self._metrics_token
        if token is None:
            return True
        given = headers.get("Authorization", "")
        expected = f"Bearer {token}"
        return hmac.compare_digest(given.encode(), expected.encode())
