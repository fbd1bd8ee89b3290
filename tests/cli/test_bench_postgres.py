"""A smallest run of ``scripts/bench_postgres.py``: both modes run on fresh databases of the real
PostgreSQL server and print their figures and the ratio. It checks that the benchmark works,
never what it measures."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.pg import ADMIN_URL
from tests.scripts import load_script


async def _databases() -> set[str]:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        return {r[0] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


@pytest.mark.timeout(120)
def test_smallest_run_prints_every_figure(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_script(monkeypatch, "bench_postgres")
    before = asyncio.run(_databases())
    bench.main(["--runs", "1", "--writers", "4", "--each", "3", "--admin-url", ADMIN_URL])
    out = capsys.readouterr().out
    for figure in (
        "group commit (one transaction per batch): events/s",
        "one transaction per event: events/s",
        "group commit / one transaction per event (events/s)",
    ):
        assert figure in out, figure
    assert asyncio.run(_databases()) == before  # each run's databases are dropped
