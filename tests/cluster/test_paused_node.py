"""Real processes: a node paused past its lease (SIGSTOP) is taken over; resumed (SIGCONT), it
cannot write with its old epochs, steps down and joins again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import asyncpg

from auctionactors.cluster.ownership import Ownership
from tests.cli.process import LineReader, start_module
from tests.cluster.holder import CONFIG, eventually

WAIT_S = 30.0


async def next_event(reader: LineReader, *events: str) -> dict[str, Any]:
    """The holder's next line whose event is one of ``events`` (others are skipped)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            line: dict[str, Any] = json.loads(await asyncio.to_thread(reader.next, WAIT_S))
            if line["event"] in events:
                return line


async def held(reader: LineReader, count: int) -> dict[int, int]:
    while True:
        line = await next_event(reader, "held")
        if len(line["epochs"]) == count:
            return {int(p): e for p, e in line["epochs"].items()}


async def test_a_paused_holder_is_fenced_steps_down_and_rejoins(pg_url: str) -> None:
    admin = await asyncpg.connect(pg_url)
    await admin.execute(
        "CREATE TABLE probe (id bigserial PRIMARY KEY, node text, partition int, epoch bigint)"
    )
    process = start_module("tests.cluster.holder", pg_url, "h")
    reader = LineReader(process.stdout)  # type: ignore[arg-type]
    b = Ownership(pg_url, "b", "ws://127.0.0.1/b", config=CONFIG)
    try:
        await held(reader, 12)
        await b.start()
        await held(reader, 6)  # fair share across processes: it handed 6 back
        async with asyncio.timeout(WAIT_S):
            await b.until(lambda: len(b.held) == 6)

        os.kill(process.pid, signal.SIGSTOP)  # paused, its sessions still open
        async with asyncio.timeout(WAIT_S):
            await b.until(lambda: len(b.held) == 12)  # evicted after its lease, taken over
        taken = dict(b.held)
        mark = await admin.fetchval("SELECT coalesce(max(id), 0) FROM probe")
        before = await admin.fetch("SELECT partition, epoch FROM probe WHERE node = 'h'")
        assert before, "the holder wrote before it was paused"
        assert all(r["epoch"] < taken[r["partition"]] for r in before)

        os.kill(process.pid, signal.SIGCONT)
        lost = await next_event(reader, "lost")
        assert len(lost["partitions"]) == 6
        again = await held(reader, 6)  # joined again and got its share back, new epochs
        assert all(again[p] > taken[p] for p in again)
        async with asyncio.timeout(WAIT_S):
            await eventually(
                lambda: admin.fetchval(
                    "SELECT count(*) FROM probe WHERE node = 'h' AND id > $1", mark
                )
            )
        after = await admin.fetch(
            "SELECT partition, epoch FROM probe WHERE node = 'h' AND id > $1", mark
        )
        # Nothing written with an epoch it held before the takeover.
        assert all(r["epoch"] == again[r["partition"]] for r in after)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
        process.wait()
        await b.stop()
        await admin.close()
