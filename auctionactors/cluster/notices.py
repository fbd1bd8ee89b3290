"""Cross-node updates: every append is announced through PostgreSQL's LISTEN/NOTIFY.

`announce` runs inside the append's transaction (`fence.PartitionFence.check` calls it), so a
notification is sent when, and only when, the append commits, in commit order. `Notices` keeps
one connection per node listening on the channel and hands each announced auction id to the
runtime (whose followers then read the new events from the store); after every (re)connection
it says that announcements may have been missed (``on_gap``), so followers catch up anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from typing import Any

import asyncpg

from auctionactors.cluster import membership

log = logging.getLogger(__name__)

CHANNEL = "auctionactors_appends"


async def announce(conn: Any, stream_ids: Collection[str]) -> None:
    """Notify the other nodes of an append to ``stream_ids`` (sent on commit only)."""
    await conn.execute(
        "SELECT pg_notify($1, s) FROM unnest($2::text[]) s", CHANNEL, list(stream_ids)
    )


class Notices:
    def __init__(
        self,
        dsn: str,
        node_id: str,
        on_notice: Callable[[str], None],
        on_gap: Callable[[], None],
        *,
        retry_s: float = 0.5,
    ) -> None:
        self.dsn = dsn
        self.node_id = node_id
        self.on_notice = on_notice
        self.on_gap = on_gap
        self.retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="notices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close()

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            self.on_notice(str(payload))
        except Exception:
            log.exception("a notice of %s failed", payload)

    async def _run(self) -> None:
        while True:
            closed = asyncio.Event()
            try:
                conn = await asyncpg.connect(
                    self.dsn,
                    server_settings={"application_name": membership.application_name(self.node_id)},
                )
                self._conn = conn
                conn.add_termination_listener(lambda _c, ended=closed: ended.set())
                await conn.add_listener(CHANNEL, self._heard)
                self.on_gap()
                await closed.wait()
                log.warning("%s: the notice connection closed; listening again", self.node_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: cannot listen for notices: %r", self.node_id, exc)
            await asyncio.sleep(self.retry_s)
