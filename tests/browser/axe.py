"""axe-core in the page under test: `check_a11y(page, name)` fails on any serious or critical
violation. axe-core comes from the npm registry, pinned, installed by `scripts/setup-browser.sh`
into `node_modules_browser/` (git-ignored). It is evaluated through Playwright (DevTools), which
the page's Content-Security-Policy (scripts from its own origin only) does not apply to."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page, ViewportSize

AXE_JS = (
    Path(__file__).resolve().parents[2]
    / "node_modules_browser"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
BLOCKING = ("serious", "critical")
# The sizes every screen is checked and photographed at: a laptop and a phone.
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}


@cache
def axe_source() -> str:
    if not AXE_JS.is_file():
        message = "axe-core is not installed (run scripts/setup-browser.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS.read_text(encoding="utf-8")


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:5]]
        lines.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return "\n".join(lines)


async def check_a11y(page: Page, screen: str) -> None:
    found = await violations(page)
    assert not found, f"{screen}:\n{describe(found)}"
