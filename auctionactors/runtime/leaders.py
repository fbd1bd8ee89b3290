"""Cluster mode's reactors: each runs on exactly one node at a time, the one that leads it.

`Leaders` is the `RoleListener` of the node's `Ownership`: every reactor ``serve`` was asked
for is a role (`cluster.roles`: a session-level advisory lock on the node's lock connection and
an epoch). When the node takes a role it makes the reactor afresh (``make``) and starts it from
the stored checkpoint; when it loses the role (its lock connection ended: killed, paused past
its lease and evicted, cut off from PostgreSQL) it halts the reactor at once; when it leaves it
stops the reactor before handing the role back. The other nodes try the role every round: one
of them takes over from the checkpoint.

A running reactor's `RoleLead` answers whether the node still leads: what the node knows
(``leading``: no I/O, before each send) and what the database says (``confirm``: the role's
epoch, read through the store's fence, before each group of sends). Its records and checkpoint
are fenced by the store in their own transaction (`cluster.fence.PartitionFence.check_role`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from auctionactors.cluster.ownership import Ownership
from auctionactors.errors import Fenced
from auctionactors.runtime.reactor import Lead, NotLeading, Reactor

log = logging.getLogger(__name__)


class RoleLead:
    """The `Lead` of a reactor started at ``epoch`` of its role."""

    def __init__(self, ownership: Ownership, store: Any, name: str, epoch: int) -> None:
        self.ownership = ownership
        self.store = store
        self.name = name
        self.epoch = epoch

    def leading(self) -> bool:
        return self.ownership.leads(self.name, self.epoch)

    async def confirm(self) -> None:
        if not self.leading():
            raise NotLeading(f"{self.ownership.node_id} no longer leads {self.name!r}")
        try:
            await self.store.check_reactor(self.name)
        except Fenced as exc:
            raise NotLeading(str(exc)) from None


class Leaders:
    """Starts and stops the node's reactors as it takes and gives up their roles.

    ``make(name, lead)`` builds a reactor (not started); ``running`` is the list of the
    reactors this node runs now (the gateway's ``status`` shows it); ``started`` is told of
    each reactor started here (``serve`` prints it)."""

    def __init__(
        self,
        ownership: Ownership,
        store: Any,
        names: list[str],
        make: Callable[[str, Lead], Reactor],
        running: list[Reactor] | None = None,
        started: Callable[[Reactor], None] | None = None,
    ) -> None:
        self.ownership = ownership
        self.store = store
        self.make = make
        self.running: list[Reactor] = running if running is not None else []
        self.started = started
        self._closing: set[asyncio.Task[None]] = set()
        ownership.roles = list(names)
        ownership.role_listener = self

    async def led(self, name: str, epoch: int) -> None:
        reactor = self.make(name, RoleLead(self.ownership, self.store, name, epoch))
        self.running.append(reactor)
        await reactor.start()
        log.info("reactor %s runs here from position %s", name, reactor.position)
        if self.started is not None:
            self.started(reactor)

    async def releasing(self, names: frozenset[str]) -> None:
        for reactor in [r for r in self.running if r.name in names]:
            self.running.remove(reactor)
            await reactor.stop()

    def lost(self, names: frozenset[str]) -> None:
        for reactor in [r for r in self.running if r.name in names]:
            self.running.remove(reactor)
            reactor.halt()  # at once; the sender is closed in the background
            task = asyncio.get_running_loop().create_task(reactor.stop())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Wait for the reactors halted in the background to close their senders."""
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
