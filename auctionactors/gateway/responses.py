"""Plain HTTP answers with a body of our own (health, metrics, the page): `Endpoints`, which the
server asks for every GET or HEAD but ``/ws``, and which secures every HTTP answer it sends.
Typed by what a connection, a request and a response look like, so that only `server` imports
websockets.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, MutableMapping
from http import HTTPStatus
from typing import Protocol, TypeVar

from auctionactors.gateway import metrics
from auctionactors.gateway.assets import SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY, Assets
from auctionactors.gateway.hub import Hub
from auctionactors.runtime.supervisor import Supervisor


class Response(Protocol):
    """What `respond` and `Endpoints.secure` change in a websockets ``Response``."""

    status_code: int
    body: bytes | bytearray

    @property
    def headers(self) -> MutableMapping[str, str]: ...


class Request(Protocol):
    """What `Endpoints.secure` reads of a websockets ``Request``."""

    method: str


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
    (``/`` and ``/static/...``); 404 for any other path. ``tls``: the port speaks TLS (HSTS)."""

    def __init__(
        self,
        supervisor: Supervisor,
        hub: Hub,
        registry: metrics.Metrics,
        assets: Assets,
        *,
        metrics_token: str | None,
        tls: bool,
    ) -> None:
        self.supervisor = supervisor
        self.hub = hub
        self.metrics = registry
        self._assets = assets
        self._metrics_token = metrics_token
        self._tls = tls

    async def answer(self, connection: Responder[R], path: str, headers: Mapping[str, str]) -> R:
        if path == "/healthz":
            body = await metrics.healthz(self.supervisor, self.hub)
            return respond(connection, HTTPStatus.OK, "application/json", body)
        if path == "/metrics":
            if not self._may_read_metrics(headers):
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "a bearer token is needed\n")
                response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
                return response
            text = await self.metrics.render()
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

    def secure(self, connection: object, request: Request, response: R) -> R:
        """Every HTTP answer: the security headers; for HEAD, no body (its length is kept)."""
        if response.status_code == HTTPStatus.SWITCHING_PROTOCOLS:
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        if self._tls:
            response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        if request.method == "HEAD":
            response.body = b""
        return response
