"""The page's files over plain HTTP (no browser needed): content types, headers, every module
import resolvable, and nothing outside the packaged files reachable."""

from __future__ import annotations

import re

import pytest

from auctionactors.gateway.assets import Assets
from tests.gateway.test_http import get

from .conftest import Site

IMPORT = re.compile(rb"""from\s+"\./([A-Za-z0-9_.-]+)";""")


async def test_the_page_and_its_files_are_served_with_their_types(site: Site) -> None:
    served = site.served
    status, headers, body = await get(served, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert b'<script type="module" src="/static/app.js"></script>' in body
    assert (await get(served, "/index.html"))[2] == body
    expected = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    paths = [p for p in Assets.load().paths() if p.startswith("/static/")]
    assert "/static/app.js" in paths and "/static/styles.css" in paths
    for path in paths:
        status, headers, body = await get(served, path)
        assert status == 200, path
        suffix = path[path.rfind(".") :]
        if suffix in expected:
            assert headers["content-type"] == expected[suffix], path
        assert headers["x-content-type-options"] == "nosniff"
        for name in IMPORT.findall(body):  # every module the page imports is served
            assert f"/static/{name.decode()}" in paths, (path, name)


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static//etc/passwd",
        "/static/.hidden",
        "/static/app.js/",
        "/static/nothing.js",
        "/server.py",
        "/static/__init__.py",
    ],
)
async def test_nothing_else_is_reachable(site: Site, path: str) -> None:
    assert (await get(site.served, path))[0] == 404


def test_assets_refuse_unsafe_names() -> None:
    assets = Assets({"app.js": b"x", "sub/page.css": b"y", "notes.exe": b"z"})
    assert assets.get("/static/app.js") is not None
    assert assets.get("/static/sub/page.css") is not None
    assert assets.get("/static/notes.exe") is None  # not a type the page serves
    assert assets.get("/static/sub/../app.js") is None
    assert assets.get("/") is None  # no index.html here
