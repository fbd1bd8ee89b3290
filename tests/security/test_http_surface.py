"""The plain HTTP side of the port (issue 9, item 14; PROTOCOL 1.1 "HTTP"): methods other than
GET and HEAD get 405 (with or without a body, which websockets' parser used to answer by
dropping the connection); HEAD answers like GET without a body; security headers on every
answer, HSTS with TLS only, no library version in ``Server``; ``/metrics`` behind an optional
bearer token; the Origin check never trusts the request's ``Host`` (DNS rebinding)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import shutil
from pathlib import Path

import msgspec
import pytest

from tests.gateway.conftest import FAST, WAIT_S, serving

from .test_tls import _trusting, cert  # noqa: F401  (a fixture)


async def exchange(host: str, port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request; the status, headers (lower-case names) and body."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), WAIT_S)
    writer.close()
    await writer.wait_closed()
    assert data, f"no response to {raw[:40]!r}"
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
async def test_other_methods_get_405(tmp_path: Path, method: str) -> None:
    async with serving(tmp_path / "methods.db") as served:
        host, port = served.http
        for path in ("/", "/healthz", "/metrics", "/ws", "/nothing"):
            for raw in (
                request(method, path),
                request(method, path, "Content-Length: 5", body=b"hello"),
                request(
                    method, path, "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"
                ),
            ):
                status, headers, _ = await exchange(host, port, raw)
                assert (status, headers.get("allow")) == (405, "GET, HEAD"), (method, path, raw)


async def test_a_get_with_a_body_is_a_bad_request(tmp_path: Path) -> None:
    async with serving(tmp_path / "body.db") as served:
        raw = request("GET", "/healthz", "Content-Length: 5", body=b"hello")
        assert (await exchange(*served.http, raw))[0] == 400


async def test_head_answers_like_get_without_a_body(tmp_path: Path) -> None:
    async with serving(tmp_path / "head.db") as served:
        for path in ("/", "/healthz", "/metrics", "/static/app.js", "/nothing", "/ws"):
            status, headers, _ = await exchange(*served.http, request("GET", path))
            h_status, h_headers, h_body = await exchange(*served.http, request("HEAD", path))
            assert (h_status, h_body) == (status, b""), path
            assert h_headers.get("content-type") == headers.get("content-type"), path
            if path == "/metrics":  # the process's own figures (CPU seconds…) move in between
                assert int(h_headers["content-length"]) > 0, path
            else:
                assert h_headers.get("content-length") == headers.get("content-length"), path


async def test_security_headers_and_no_version(tmp_path: Path) -> None:
    async with serving(tmp_path / "headers.db") as served:
        for path in ("/", "/healthz", "/nothing"):
            _, headers, _ = await exchange(*served.http, request("GET", path))
            assert headers["server"] == "auctionactors", path
            assert headers["cross-origin-opener-policy"] == "same-origin"
            policy = headers["permissions-policy"]
            for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
                assert f"{feature}=()" in policy
            assert "strict-transport-security" not in headers  # not without TLS


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
async def test_hsts_with_tls(tmp_path: Path, cert: tuple[str, str]) -> None:  # noqa: F811
    config = msgspec.structs.replace(FAST, tls_cert=cert[0], tls_key=cert[1])
    async with serving(tmp_path / "hsts.db", config) as served:

        def get() -> str | None:
            port = served.gateway.port
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=_trusting(cert[0]))
            try:
                conn.request("GET", "/healthz")
                return conn.getresponse().getheader("Strict-Transport-Security")
            finally:
                conn.close()

        assert await asyncio.to_thread(get) == "max-age=31536000"


async def test_metrics_token(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, metrics_token="s3cret-metrics")
    async with serving(tmp_path / "metrics.db", config) as served:
        status, headers, _ = await exchange(*served.http, request("GET", "/metrics"))
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")
        wrong = request("GET", "/metrics", "Authorization: Bearer nope")
        assert (await exchange(*served.http, wrong))[0] == 401
        right = request("GET", "/metrics", "Authorization: Bearer s3cret-metrics")
        status, _, body = await exchange(*served.http, right)
        assert status == 200 and b"auctionactors_connections" in body
        assert (await exchange(*served.http, request("GET", "/healthz")))[0] == 200  # open


def upgrade(host_header: str, origin: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: {host_header}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    ).encode()


async def handshake_status(host: str, port: int, raw: bytes) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(raw)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), WAIT_S)
    writer.close()
    await writer.wait_closed()
    return int(line.split()[1])


async def test_the_origin_check_ignores_host_dns_rebinding(tmp_path: Path) -> None:
    """An attacker's name resolving to this server: the browser sends that name as ``Host``
    and ``Origin`` alike. Only the server's own origins count, whatever ``Host`` says."""
    async with serving(tmp_path / "rebind.db") as served:
        host, port = served.http
        rebound = f"rebind.example:{port}"
        assert await handshake_status(host, port, upgrade(rebound, f"http://{rebound}")) == 403
        own = f"http://127.0.0.1:{port}"
        assert await handshake_status(host, port, upgrade(rebound, own)) == 101


async def test_public_origin_for_a_wildcard_bind(tmp_path: Path) -> None:
    public = "https://bunkers.example"
    config = msgspec.structs.replace(FAST, host="0.0.0.0", public_origins=(public,))
    async with serving(tmp_path / "public.db", config) as served:
        port = served.gateway.port
        for origin, expected in (
            (public, 101),
            (f"http://localhost:{port}", 101),
            (f"http://127.0.0.1:{port}", 101),
            (f"http://0.0.0.0:{port}", 403),
            (f"http://rebind.example:{port}", 403),
        ):
            raw = upgrade(f"127.0.0.1:{port}", origin)
            assert await handshake_status("127.0.0.1", port, raw) == expected, origin
