"""`Deliveries` in memory: the reactors' part of `MemoryEventStore`, with the same semantics as
SQLite's (`sqlite_deliveries`), for tests and for trying things out."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from auctionactors.store.base import StoredEvent
from auctionactors.store.deliveries import ParkedDelivery, Reminder, check_advance


class MemoryDeliveries:
    """Mixed into `MemoryEventStore` (which provides ``_all`` and ``_ensure_open``)."""

    _all: list[StoredEvent]

    def _ensure_open(self) -> None:
        raise NotImplementedError

    def _init_deliveries(self) -> None:
        self._checkpoints: dict[str, int] = {}
        self._accepted: dict[tuple[str, str], int] = {}  # (reactor, effect id) -> position
        self._parked: dict[tuple[str, str], ParkedDelivery] = {}
        self._reminders: dict[tuple[str, str], Reminder] = {}  # (reactor, stream id)

    async def start_reactor(self, reactor: str) -> int:
        self._ensure_open()
        return self._checkpoints.setdefault(reactor, len(self._all))

    async def reactor_positions(self) -> dict[str, int]:
        self._ensure_open()
        return dict(sorted(self._checkpoints.items()))

    async def head_position(self) -> int:
        self._ensure_open()
        return len(self._all)

    async def accepted_effects(self, reactor: str, effect_ids: Sequence[str]) -> set[str]:
        self._ensure_open()
        return {e for e in effect_ids if (reactor, e) in self._accepted}

    async def record_deliveries(
        self,
        reactor: str,
        *,
        accepted: Sequence[tuple[str, int]] = (),
        parked: Sequence[ParkedDelivery] = (),
        reminders_done: Sequence[Reminder] = (),
    ) -> None:
        self._ensure_open()
        for effect_id, position in accepted:
            self._accepted[(reactor, effect_id)] = position
            self._parked.pop((reactor, effect_id), None)
        for row in parked:
            self._parked[(reactor, row.effect_id)] = msgspec.structs.replace(
                row, reactor=reactor, redrive=False
            )
        for done in reminders_done:
            stored = self._reminders.get((reactor, done.stream_id))
            if stored is not None and stored.key == done.key:
                del self._reminders[(reactor, done.stream_id)]

    async def advance_reactor(
        self,
        reactor: str,
        position: int,
        *,
        reminders: Sequence[Reminder] = (),
        cleared: Sequence[str] = (),
    ) -> None:
        self._ensure_open()
        check_advance(reactor, self._checkpoints.get(reactor, 0), position)
        self._checkpoints[reactor] = position
        for key in [k for k, p in self._accepted.items() if k[0] == reactor and 0 < p <= position]:
            del self._accepted[key]
        for stream_id in cleared:
            self._reminders.pop((reactor, stream_id), None)
        for reminder in reminders:
            self._reminders[(reactor, reminder.stream_id)] = msgspec.structs.replace(
                reminder, reactor=reactor
            )

    async def reminders(self, reactor: str) -> list[Reminder]:
        self._ensure_open()
        found = [r for (name, _), r in self._reminders.items() if name == reactor]
        return sorted(found, key=lambda r: (r.due_at, r.stream_id))

    async def parked(self, reactor: str | None = None) -> list[ParkedDelivery]:
        self._ensure_open()
        rows = [p for p in self._parked.values() if reactor is None or p.reactor == reactor]
        return sorted(rows, key=lambda p: (p.reactor, p.position, p.effect_id))

    async def redrive(self, effect_ids: Sequence[str] | None = None) -> int:
        self._ensure_open()
        wanted = None if effect_ids is None else set(effect_ids)
        count = 0
        for key, row in self._parked.items():
            if wanted is None or row.effect_id in wanted:
                self._parked[key] = msgspec.structs.replace(row, redrive=True)
                count += 1
        return count
