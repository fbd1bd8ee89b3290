"""One node's partitions: advisory locks on a dedicated connection, epochs, fair-share rebalance.

A node keeps one connection to PostgreSQL for ownership alone (the *lock connection*). Each
partition it owns is a session-level advisory lock held on that connection plus the epoch it
bumped when it took the partition (the fencing token `fence.PartitionFence` checks inside every
append's transaction). Every ``tick_s`` the node renews its heartbeat, evicts dead and paused
nodes (`membership.evict`), computes the fair share of the live nodes (`partitions.fair_share`,
the same on every node), hands back the partitions it holds beyond its share and tries to take
the missing ones (a lock another node still holds is tried again next round).

When the lock connection ends (PostgreSQL restarted, the backend terminated, the network cut)
its locks are gone: the node drops every partition at once (`OwnershipListener.lost`, before
any further append can be acknowledged: the fence refuses partitions not held), then joins
again on its own as a new incarnation and takes its share with new epochs.

Roles (`roles`: the notification reactors) are held on the same lock connection, with the same
fate: every round the node tries those it does not hold (`RoleListener.led` starts one), loses
them all with its partitions (`RoleListener.lost`) and hands them back when it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from auctionactors.cluster import membership, roles, schema
from auctionactors.cluster.partitions import LOCK_SPACE, PARTITIONS, fair_share, partition_of

log = logging.getLogger(__name__)


class OwnershipListener(Protocol):
    """What the runtime does when the node's partitions change."""

    async def acquired(self, epochs: dict[int, int]) -> None:
        """The node now owns these partitions (at these epochs): load their deadlines."""
        ...

    async def releasing(self, partitions: frozenset[int]) -> None:
        """The node hands these partitions back: drain and stop their actors. They are still
        held (their appends still pass the fence) until this returns."""
        ...

    def lost(self, partitions: frozenset[int]) -> None:
        """The node lost these partitions (its lock connection ended, or it was fenced): stop
        their actors now, acknowledging nothing more (not awaited: it happens at once)."""
        ...


class RoleListener(Protocol):
    """What the runtime does when the node takes or gives up roles (`roles`)."""

    async def led(self, name: str, epoch: int) -> None:
        """The node now holds role ``name`` at ``epoch``: start its work."""
        ...

    async def releasing(self, names: frozenset[str]) -> None:
        """The node hands these roles back (it leaves): stop their work; still held meanwhile."""
        ...

    def lost(self, names: frozenset[str]) -> None:
        """The node lost these roles: stop their work at once (not awaited)."""
        ...


class Quiet:
    """An `OwnershipListener` that does nothing (tools and tests that only hold partitions)."""

    async def acquired(self, epochs: dict[int, int]) -> None:
        return None

    async def releasing(self, partitions: frozenset[int]) -> None:
        return None

    def lost(self, partitions: frozenset[int]) -> None:
        return None


@dataclass(frozen=True)
class OwnershipConfig:
    """``lease_s``: a node whose heartbeat is older is evicted (a paused node's takeover time);
    ``tick_s``: how often a node renews its heartbeat and rebalances (a killed node's takeover
    time); ``partitions``: the count a new cluster database gets; ``retry_s``: the pause
    before joining again after losing the lock connection."""

    lease_s: float = 5.0
    tick_s: float = 0.5
    partitions: int = PARTITIONS
    retry_s: float = 0.5


class Lost(Exception):
    """The lock connection is gone or the node was evicted: step down and join again."""


class Ownership:
    def __init__(
        self,
        dsn: str,
        node_id: str,
        advertise: str,
        *,
        listener: OwnershipListener | None = None,
        config: OwnershipConfig | None = None,
    ) -> None:
        self.dsn = dsn
        self.node_id = membership.check_node_id(node_id)
        self.advertise = advertise
        self.listener: OwnershipListener = listener or Quiet()
        self.roles: list[str] = []  # the roles this node tries to hold (set before `start`)
        self.role_listener: RoleListener | None = None
        self.leading: dict[str, int] = {}  # role -> epoch
        self.config = config or OwnershipConfig()
        self.count = 0  # the database's partition count, known once joined
        self.held: dict[int, int] = {}  # partition -> epoch
        self.owners: dict[int, str] = {}  # partition -> owner node, as of the last round
        self.peers: dict[str, str] = {}  # live node -> advertise address, as of the last round
        self.secret = ""  # the node credential of node links (the database's, see schema)
        self.joins = 0
        self.losses = 0
        self._conn: Any = None
        self._incarnation = ""
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._stopping = False

    # --- questions ------------------------------------------------------------------------------

    def partition(self, stream_id: str) -> int:
        return partition_of(stream_id, self.count)

    def owns(self, stream_id: str) -> bool:
        return self.count > 0 and partition_of(stream_id, self.count) in self.held

    def leads(self, name: str, epoch: int | None = None) -> bool:
        """Whether the node holds role ``name`` (at ``epoch``, when given) as far as it knows."""
        held = self.leading.get(name)
        return held is not None and (epoch is None or held == epoch)

    def owner_of(self, stream_id: str) -> str | None:
        """The node that owned the auction's partition at the last round (None: nobody, or not
        joined yet); this node as soon as it holds it."""
        if self.count == 0:
            return None
        partition = partition_of(stream_id, self.count)
        if partition in self.held:
            return self.node_id
        return self.owners.get(partition)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, checked on every change of the held partitions or
        the membership (bound it with ``asyncio.timeout``)."""
        while not predicate():
            await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # --- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start joining and holding in the background (`until` waits for a state)."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"ownership-{self.node_id}"
        )

    async def stop(self) -> None:
        """Leave the cluster: hand every partition back (the listener drains their actors first),
        remove the node's row and close the lock connection (which frees any lock left)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, self.config.tick_s * 4 + 5)
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            if self.leading:
                if self.role_listener is not None:
                    await self.role_listener.releasing(frozenset(self.leading))
                await roles.give_back(conn, self.node_id, sorted(self.leading))
                self.leading.clear()
            if self.held:
                await self.listener.releasing(frozenset(self.held))
            self.held.clear()
            await conn.execute(
                "UPDATE cluster_partitions SET owner = NULL WHERE owner = $1", self.node_id
            )
            await conn.execute(
                "DELETE FROM cluster_nodes WHERE node_id = $1 AND incarnation = $2",
                self.node_id,
                self._incarnation,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("%s: leaving the cluster cleanly failed: %s", self.node_id, exc)
        finally:
            self.held.clear()
            self.leading.clear()
            await conn.close()
            self._notify()

    def fenced(self, partitions: frozenset[int]) -> None:
        """An append found another epoch on these partitions: another node took them over, so
        this node's session and locks are gone. Step down at once and join again."""
        self._lose(f"fenced on partitions {sorted(partitions)}")

    def fenced_role(self, name: str) -> None:
        """A role's write found another epoch: another node holds it, so this node's session
        and locks are gone. Step down at once and join again."""
        self._lose(f"fenced on role {name!r}")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._join()
                while not self._stopping:
                    await self._round()
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.config.tick_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return
                self._lose(f"{type(exc).__name__}: {exc}")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.retry_s)

    async def _join(self) -> None:
        conn = await asyncpg.connect(
            self.dsn,
            server_settings={"application_name": membership.application_name(self.node_id)},
        )
        self._conn = conn
        conn.add_termination_listener(self._terminated)
        await schema.migrate(conn)
        self.count = await schema.partition_count(conn, self.config.partitions)
        self.secret = await schema.secret(conn)
        self._incarnation = secrets.token_hex(8)
        await membership.register(conn, self.node_id, self.advertise, self._incarnation)
        self._live(conn)
        self.joins += 1
        log.info("%s joined the cluster (%d partitions)", self.node_id, self.count)
        self._notify()

    def _live(self, conn: Any) -> None:
        """`Lost` unless ``conn`` is still the node's lock connection (checked after each await:
        a loss meanwhile has already dropped every partition)."""
        if conn is not self._conn or conn.is_closed():
            raise Lost("the lock connection is gone")

    def _terminated(self, conn: Any) -> None:
        if conn is self._conn:
            self._lose("the lock connection closed")
            self._wake.set()

    def _lose(self, reason: str) -> None:
        """Drop every partition at once (the listener stops their actors) and the lock
        connection; the run loop joins again."""
        lost = frozenset(self.held)
        self.held.clear()
        lost_roles = frozenset(self.leading)
        self.leading.clear()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        if lost_roles:
            log.warning("%s lost roles %s: %s", self.node_id, sorted(lost_roles), reason)
            if self.role_listener is not None:
                self.role_listener.lost(lost_roles)
        if lost:
            self.losses += 1
            log.warning("%s lost %d partitions: %s", self.node_id, len(lost), reason)
            self.listener.lost(lost)
        self._wake.set()
        self._notify()

    # --- one round ------------------------------------------------------------------------------

    async def _round(self) -> None:
        conn = self._conn
        if conn is None:
            raise Lost("not joined")
        alive = await membership.heartbeat(conn, self.node_id, self._incarnation)
        self._live(conn)
        if not alive:
            raise Lost("evicted by another node")
        gone = await membership.evict(conn, self.node_id, self.config.lease_s)
        if gone:
            log.warning("%s evicted %s", self.node_id, ", ".join(gone))
        peers = await membership.live(conn)
        owners = await conn.fetch(
            "SELECT partition, owner FROM cluster_partitions WHERE owner IS NOT NULL"
        )
        self._live(conn)
        owners_now = {r["partition"]: r["owner"] for r in owners}
        changed = peers != self.peers or owners_now != self.owners
        self.peers = peers
        self.owners = owners_now
        desired = fair_share(peers, self.count).get(self.node_id, frozenset())
        extra = frozenset(self.held) - desired
        if extra:
            await self._release(conn, extra)
        missing = sorted(desired - set(self.held))
        if missing:
            await self._acquire(conn, missing)
        if changed:
            self._notify()
        await self._lead(conn)

    async def _lead(self, conn: Any) -> None:
        """Try the roles not held (another node's are refused until its session ends)."""
        wanted = [name for name in self.roles if name not in self.leading]
        if not wanted:
            return
        epochs = await roles.take(conn, self.node_id, wanted)
        self._live(conn)
        for name, epoch in sorted(epochs.items()):
            self.leading[name] = epoch
            log.info("%s leads %s (epoch %d)", self.node_id, name, epoch)
            self._notify()
            if self.role_listener is not None:
                await self.role_listener.led(name, epoch)

    async def _acquire(self, conn: Any, partitions: list[int]) -> None:
        got = [
            r["p"]
            for r in await conn.fetch(
                "SELECT p FROM unnest($2::int[]) p WHERE pg_try_advisory_lock($1, p)",
                LOCK_SPACE,
                partitions,
            )
        ]
        self._live(conn)
        if not got:
            return
        rows = await conn.fetch(
            """
            UPDATE cluster_partitions SET epoch = epoch + 1, owner = $1, acquired_at = now()
            WHERE partition = ANY($2::int[]) RETURNING partition, epoch
            """,
            self.node_id,
            got,
        )
        self._live(conn)
        epochs = {r["partition"]: r["epoch"] for r in rows}
        self.held.update(epochs)
        for partition in epochs:
            self.owners[partition] = self.node_id
        log.info("%s took %d partitions", self.node_id, len(epochs))
        self._notify()
        await self.listener.acquired(epochs)

    async def _release(self, conn: Any, partitions: frozenset[int]) -> None:
        await self.listener.releasing(partitions)
        self._live(conn)
        for partition in partitions:
            self.held.pop(partition, None)
            self.owners.pop(partition, None)
        self._notify()
        await conn.execute(
            "UPDATE cluster_partitions SET owner = NULL WHERE partition = ANY($2::int[])"
            " AND owner = $1",
            self.node_id,
            sorted(partitions),
        )
        await conn.fetch(
            "SELECT pg_advisory_unlock($1, p) FROM unnest($2::int[]) p",
            LOCK_SPACE,
            sorted(partitions),
        )
        log.info("%s handed back %d partitions", self.node_id, len(partitions))
