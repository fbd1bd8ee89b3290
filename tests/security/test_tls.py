"""Optional TLS: ``serve --tls-cert FILE --tls-key FILE`` speaks wss:// and https:// on its one
port (``/healthz`` included), and the Python client connects with an SSL context that trusts the
certificate. The certificate is self-signed, made here with the ``openssl`` command line (no
extra Python dependency); the tests are skipped where it is missing."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect

from auctionactors.cli import main
from auctionactors.client import Client, ClientError
from auctionactors.store.sqlite import SqliteEventStore
from tests.gateway.conftest import FAST, WAIT_S, serving

from .live import live_server

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def cert(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return str(cert), str(key)


def _trusting(cert: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cert)


def _healthz(port: int, context: ssl.SSLContext) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=WAIT_S)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


async def test_wss_and_https_in_process(tmp_path: Path, cert: tuple[str, str]) -> None:
    config = msgspec.structs.replace(FAST, tls_cert=cert[0], tls_key=cert[1])
    async with serving(tmp_path / "tls.db", config) as served:
        assert served.url.startswith("wss://127.0.0.1:")
        token = served.people.buyer.token
        async with Client(served.url, token, ssl_context=_trusting(cert[0])) as client:
            assert client.welcome is not None and client.welcome["type"] == "welcome"
            assert (await client.request("list_auctions"))["auctions"] == []
        port = served.gateway.port
        status, body = await asyncio.to_thread(_healthz, port, _trusting(cert[0]))
        assert status == 200 and body["status"] == "ok"
        # Without trusting the certificate: refused by the client, never sent in the clear.
        with pytest.raises(ClientError) as untrusted:
            await Client(served.url, token, reconnect=False).connect()
        assert untrusted.value.code == "unavailable"
        assert "certificate" in untrusted.value.message.lower()
        # Plain ws:// to the TLS port does not get a WebSocket.
        with pytest.raises(Exception):  # noqa: B017 - the handshake fails, however it is reported
            async with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=2):
                pass


def test_serve_with_tls(tmp_path: Path, cert: tuple[str, str]) -> None:
    db = tmp_path / "serve-tls.db"

    async def user() -> str:
        async with await SqliteEventStore.open(db) as store:
            return (await store.add_user("Platform", "admin", "Ada")).token

    async def ask(url: str, token: str) -> dict[str, object]:
        async with Client(url, token, ssl_context=_trusting(cert[0])) as client:
            return await client.request("operator_status")

    token = asyncio.run(user())
    with live_server(db, "--tls-cert", cert[0], "--tls-key", cert[1]) as live:
        assert live.url.startswith("wss://")
        assert asyncio.run(ask(live.url, token))["type"] == "ok"
        assert _healthz(live.port, _trusting(cert[0]))[0] == 200


def test_serve_refuses_bad_tls_files(
    tmp_path: Path, cert: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "x.db")
    missing = str(tmp_path / "missing.pem")
    for options, message in (
        (["--tls-cert", cert[0]], "TLS needs both a certificate and its key"),
        (["--tls-cert", missing, "--tls-key", cert[1]], f"no TLS file {missing}"),
        (["--tls-cert", cert[1], "--tls-key", cert[1]], "cannot load the TLS certificate"),
    ):
        assert main(["serve", "--db", db, "--port", "0", *options]) == 2
        assert message in capsys.readouterr().err
