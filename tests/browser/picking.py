"""Picking companies by name in the page's company picker (static/picker.js), by keyboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Page


async def pick(page: Page, testid: str, *names: str) -> None:
    """Type each name into the picker ``testid`` and pick its first match with Enter."""
    from playwright.async_api import expect

    search = page.get_by_test_id(f"{testid}-search")
    picked = page.get_by_test_id(f"{testid}-picked")
    for name in names:
        await search.fill(name)
        option = page.get_by_role("option", name=name)
        await expect(option.first).to_have_attribute("aria-selected", "true")
        await search.press("Enter")
        await expect(picked).to_contain_text(name)


async def pick_suppliers(page: Page, *names: str) -> None:
    await pick(page, "supplier-picker", *names)
