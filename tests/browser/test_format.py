"""The page's own rules, run in the browser: amounts as exact cents, the tick checked before a
bid is sent, countdowns and durations as people read them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conftest import Site

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHECKS = """async () => {
  const f = await import("/static/format.js");
  const check = (amount, floor, tick, kind) => {
    try { return f.checkBid(amount, floor, tick, kind); } catch (e) { return e.message; }
  };
  return {
    cents: ["2.25", "-1.75", "2", "2.5", "2,25", " 3.00 ", "2.255", "abc", "", "1e3"]
      .map(f.toCents),
    wire: [225, -175, 5, 0, 100000].map(f.centsToWire),
    bids: [
      check("2.00", "", "0.25", "spot"),
      check("2.95", "", "0.25", "spot"),
      check("", "1.50", "0.25", "spot"),
      check("", "1.30", "0.25", "spot"),
      check("0", "", "0.25", "spot"),
      check("-1.75", "", "0.25", "formula_related"),
      check("0.00", "", "0.25", "formula_related"),
      check("", "", "0.25", "spot"),
      check("2.255", "", "0.01", "spot"),
      check("2,50", "2", "0.50", "spot"),
    ],
    countdown: [0, 999, 1000, 59000, 61000, 180000, 3723000, 90061000, -5000].map(f.countdown),
    durations: [45, 60, 210, 600].map(f.duration),
    money: ["6750", "-1.5", null].map(f.money),
  };
}"""


async def test_amounts_ticks_and_countdowns(site: Site, browser: Browser) -> None:
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(site.url)
    result: dict[str, Any] = await page.evaluate(CHECKS)
    await context.close()
    assert result["cents"] == [225, -175, 200, 250, 225, 300, None, None, None, None]
    assert result["wire"] == ["2.25", "-1.75", "0.05", "0.00", "1000.00"]
    assert result["bids"] == [
        {"amount": "2.00", "min_amount": None},
        "The price must be a multiple of 0.25",
        {"amount": None, "min_amount": "1.50"},
        "The auto-bid floor must be a multiple of 0.25",
        "The price must be greater than 0",
        {"amount": "-1.75", "min_amount": None},
        {"amount": "0.00", "min_amount": None},
        "Enter a price, an auto-bid floor, or both",
        "The price must be a number with at most two decimals, e.g. 2.25",
        {"amount": "2.50", "min_amount": "2.00"},
    ]
    assert result["countdown"] == [
        "0:00", "0:01", "0:01", "0:59", "1:01", "3:00", "1:02:03", "1 d 1 h", "0:00",
    ]  # fmt: skip
    assert result["durations"] == ["45 s", "1 min", "3 min 30 s", "10 min"]
    assert result["money"] == ["6,750.00", "-1.50", "\N{EN DASH}"]
