"""The attacker test of issue 9: hypothesis over the whole request space (every request type of
PROTOCOL.md with valid, boundary and hostile values), sent as each of the four roles (admin,
buyer, two suppliers, observer) and unauthenticated, against a real ``serve`` process whose
world holds auctions in every status (`attacker_world`).

After every request it checks that
- no reply carries the ``internal`` code;
- exactly one ``ok``/``error`` answers it (a sync request follows each one; every frame up to
  the sync reply is collected, pushes being ``update``, ``history`` and ``unsubscribed``) and the
  connection stays open;
- a request that was not an acknowledged command stored nothing (the events stored meanwhile
  are only the clock's, whose ``by`` is null).

After every acknowledged command the admin reads the auction and the list: nothing stored may
make them fail.

Then the frames sent are replayed as a flood (made-up ids fresh each round): the server's
resident memory (``/proc/PID/status``) and tasks must stay bounded, and no actor may be live
without a stream in the store. Requests answered ``ok`` although they named something made up
are flooded once more (the leak phase): the memory must not follow. Last, the server's log
must hold no error.

Failures are collected, not raised at the first one: the test ends with one line per distinct
failure (kind, role, request type, reply) and its shortest request. ``ATTACKER_EXAMPLES`` (default
2000) and ``ATTACKER_FLOOD`` (frames, default 8000) and ``ATTACKER_LEAK`` (frames of the leak phase,
default 30000) make longer runs; ``ATTACKER_REPORT=FILE``
writes the findings as JSON; ``ATTACKER_SEED=N`` runs another (still deterministic) sequence.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.security.attacker_requests import MADE_UP, Space
from tests.security.attacker_world import (
    ROLES,
    SYNC_AUCTION,
    Client,
    Closed,
    World,
    attacker_world,
)

EXAMPLES = int(os.environ.get("ATTACKER_EXAMPLES", "2000"))
FLOOD = int(os.environ.get("ATTACKER_FLOOD", "8000"))
FLOOD_WAIT_S = 60.0  # a window of 100 frames may hold several subscribe_all of every auction
LEAK = int(os.environ.get("ATTACKER_LEAK", "30000"))
LEAK_KB = 1024  # what the leak phase may add to the RSS, per kind of request
LEAK_MIN_PER_KIND = 10_000
LEAK_WARM_UP = 2000
LEAK_BYTES_PER_FRAME = 40
REPORT = os.environ.get("ATTACKER_REPORT")
SEED = os.environ.get("ATTACKER_SEED") or None  # another deterministic run than the default one
PUSHES = {"update", "history", "unsubscribed"}
COMMANDS = {
    "create_auction", "update_auction", "start_auction", "cancel_auction", "place_bids",
    "revoke_bid", "select_solution", "submit_barge", "unsubmit_barge", "approve_barge",
    "reject_barge", "post_comment", "delete_comment", "rsvp", "invite_observer",
    "uninvite_observer",
}  # fmt: skip
# Close codes the server may use on an unauthenticated connection (bad token, no hello in
# time, refused or flooded before the hello).
DOOR_CLOSES = {4401, 4408, 4429, 1008, 1013}
RSS_GROWTH_KB = 48 * 1024  # over the flood, after a warm-up round
TASK_GROWTH = 64  # beyond one per auction the flood created


@dataclass
class Finding:
    kind: str
    role: str
    type_: str
    request: str
    detail: str
    count: int = 1


@dataclass
class Attack:
    world: World
    space: Space
    findings: dict[tuple[str, str, str, str], Finding] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)
    replies: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    by_id: dict[Any, str] = field(default_factory=dict)
    suspects: list[tuple[str, str]] = field(default_factory=list)
    list_broken: bool = False
    stopped: str = ""  # why the attack stopped early (the server no longer answers)
    syncs: int = 0
    anon: Client | None = None

    def found(self, kind: str, role: str, type_: str, text: str, detail: str, sig: str) -> None:
        key = (kind, role, type_, sig)
        old = self.findings.get(key)
        if old is None:
            self.findings[key] = Finding(kind, role, type_, text, detail)
        else:
            old.count += 1
            if len(text) < len(old.request):
                old.request, old.detail = text, detail

    def client(self, role: str) -> Client:
        if role != "anon":
            return self.world.clients[role]
        if self.anon is None:
            self.anon = Client(self.world.live.url, None)
        return self.anon

    def reopen(self, role: str, text: str = "") -> None:
        """A fresh connection for ``role``; a server that cannot give one within the wait is
        a finding (and the attack goes on once it answers again)."""
        client = self.client(role)
        for _ in range(3):
            try:
                client.reopen()
                if role != "anon":
                    client.ok("subscribe_all")
                return
            except Exception as exc:
                alive = self.world.alive()
                detail = f"{type(exc).__name__}: {exc}; server alive: {alive}"
                self.found("cannot reconnect", role, "-", text, detail[:300], type(exc).__name__)
                if not alive:
                    break
        self.stopped = f"the server stopped answering {role} (alive: {self.world.alive()})"
        stack = self.world.stack() if self.world.alive() else ""
        self.found("server stopped answering", role, "-", text, f"{self.stopped}\n{stack}", "")

    def sync_frame(self) -> tuple[str, str]:
        self.syncs += 1
        rid = f"sync-{self.syncs}"
        return rid, json.dumps({"type": "get_view", "id": rid, "auction_id": SYNC_AUCTION})

    # --- one request ------------------------------------------------------------------------

    def hello(self, role: str, text: str) -> None:
        """A hello on a fresh connection: welcome, an error or a close 4401, never worse."""
        conn: Client | None = None
        try:
            conn = Client(self.world.live.url, None)
            conn.send_text(text)
            frame = conn.recv()
            self.replies[frame.get("code", frame["type"])] += 1
            if frame.get("code") == "internal" or frame["type"] not in ("welcome", "error"):
                self.found("bad hello reply", role, "hello", text, str(frame)[:300], str(frame))
        except Closed as exc:
            self.replies[f"closed {exc.code}"] += 1
            if exc.code not in DOOR_CLOSES:
                self.found("hello closed", role, "hello", text, str(exc), str(exc.code))
        except Exception as exc:
            self.found("hello failed", role, "hello", text, repr(exc)[:300], type(exc).__name__)
        finally:
            if conn is not None:
                conn.close()

    def one(self, role: str, type_: str, text: str, rid: str = "") -> None:
        """Send one request and check what came of it; whatever goes wrong is a finding."""
        if self.stopped:
            return
        try:
            self._one(role, type_, text, rid)
        except (Closed, TimeoutError) as exc:  # in the reads after an acknowledged command
            self.found("no answer to the admin's reads", role, type_, text, repr(exc)[:300], "")
            self.reopen("admin", text)

    def _one(self, role: str, type_: str, text: str, rid: str) -> None:
        world = self.world
        if type_ == "hello" and role == "anon":
            self.hello(role, text)
            return
        self.sent.append((role, text))
        self.by_id[rid] = text
        before = world.last_position()
        client = self.client(role)
        sync_id, sync = self.sync_frame()
        replies: list[dict[str, Any]] = []
        try:
            client.send_text(text)
            client.send_text(sync)
            while True:
                frame = client.recv()
                kind = frame.get("type")
                if kind in ("ok", "error"):
                    if frame.get("code") == "internal":
                        self.found("internal", role, type_, text, str(frame), "")
                    if frame.get("id") == sync_id:
                        break
                    replies.append(frame)
                elif kind not in PUSHES and not (kind == "welcome" and type_ == "hello"):
                    self.found("unexpected frame", role, type_, text, str(frame)[:300], str(kind))
        except Closed as exc:
            if role != "anon" or exc.code not in DOOR_CLOSES:
                self.found("connection closed", role, type_, text, str(exc), str(exc.code))
            self.replies[f"closed {exc.code}"] += 1
            self.reopen(role, text)
            return
        except TimeoutError:
            self.found("no reply", role, type_, text, str(replies)[:300], "")
            self.reopen(role, text)
            return
        if type_ == "hello" and role != "anon" and not replies:
            replies = [{"type": "welcome?"}]
        if len(replies) != 1:
            detail = " | ".join(json.dumps(r)[:200] for r in replies)
            self.found(f"{len(replies)} replies", role, type_, text, detail, "")
        for reply in replies:
            self.replies[reply.get("code", reply["type"])] += 1
            self.by_type[f"{type_} {reply.get('code', reply['type'])}"] += 1
            if reply.get("code") in ("bad_request", "invalid"):
                self.messages[f"{type_} {reply['code']}: {reply['message'][:70]}"] += 1
        acknowledged = type_ in COMMANDS and any(r["type"] == "ok" for r in replies)
        if MADE_UP in text and any(r["type"] == "ok" for r in replies):
            self.suspects.append((role, text))  # ok about something that does not exist
        if acknowledged:
            self.after_ok(role, type_, text, replies[0])
        stored = [e for e in world.events_after(before) if e[3] is not None]
        unknown = any(r.get("code") == "timeout" for r in replies)  # outcome unknown: may be
        if stored and not acknowledged and not unknown:
            reply_text = json.dumps(replies[0])[:200] if replies else "-"
            detail = f"reply {reply_text}; stored {[(s, q, t) for s, q, t, _ in stored]}"
            self.found("stored from refused", role, type_, text, detail, reply_text[:40])

    def after_ok(self, role: str, type_: str, text: str, reply: dict[str, Any]) -> None:
        """What an acknowledged command stored must not break a view or a list for anyone:
        the admin reads the auction and the list right after it."""
        auction_id = reply.get("auction_id")
        if auction_id is None:
            try:
                auction_id = json.loads(text).get("auction_id")
            except (ValueError, RecursionError):
                return
        else:
            self.space.auction_ids.append(auction_id)
        admin = self.world.clients["admin"]
        reads: list[tuple[str, dict[str, Any]]] = []
        if not self.list_broken:  # once broken, the list stays broken: say so once
            reads.append(("list_auctions", {}))
        if isinstance(auction_id, str):
            reads.append(("get_view", {"auction_id": auction_id}))
        for read, fields in reads:
            answer = admin.request(read, **fields)
            if answer["type"] != "ok":
                self.list_broken |= read == "list_auctions"
                detail = f"then the admin's {read}: {json.dumps(answer)[:200]}"
                self.found("stored, then a read fails", role, type_, text, detail, read)

    # --- the flood --------------------------------------------------------------------------

    def flood(self, frames: int) -> dict[str, Any]:
        """Replay what was sent, made-up ids fresh each round, in windows of 100 per role."""
        if not self.sent or self.stopped:
            return {}
        by_role: dict[str, list[str]] = {}
        for role, text in self.sent:
            by_role.setdefault(role, []).append(text)
        rounds = max(2, frames // len(self.sent))
        samples: list[tuple[int, int, int]] = []  # rss kb, tasks, stored streams
        fresh = 0
        for r in range(rounds):
            for role, texts in by_role.items():
                for start in range(0, len(texts), 100):
                    window = []
                    for text in texts[start : start + 100]:
                        fresh += 1
                        window.append(text.replace(MADE_UP, f"{MADE_UP}{fresh}r"))
                    self._volley(role, window)
            if self.stopped:
                break
            if r == 0 or r == rounds - 1:
                try:
                    samples.append((self.world.rss_kb(), self._tasks(), self._live_actors()))
                except (Closed, TimeoutError) as exc:
                    self.found("no operator_status", "admin", "-", "(flood)", repr(exc), "")
                    break
        return {"rounds": rounds, "frames": rounds * len(self.sent), "samples": samples}

    def leak(self, frames: int) -> dict[str, Any]:
        """Requests answered ``ok`` although they named something made up (an ``unsubscribe``
        of an auction that does not exist, say) may leave something behind each time: send
        them again, made-up ids fresh each time, kind by kind, and see whether the RSS follows."""
        if not self.suspects or self.stopped or frames <= 0:
            return {}
        kinds: dict[str, list[tuple[str, str]]] = {}
        for role, text in self.suspects:
            kinds.setdefault(_type_of(text), []).append((role, text))
        share = max(frames // len(kinds), LEAK_MIN_PER_KIND)
        fresh = itertools.count()
        growth: dict[str, list[int]] = {}
        for kind, suspects in sorted(kinds.items()):
            cycle = itertools.cycle(suspects)
            role = suspects[0][0]

            def send(n: int, cycle: Iterator[tuple[str, str]] = cycle, role: str = role) -> None:
                for _ in range(0, n, 200):
                    window: list[str] = []
                    while len(window) < 200:
                        role_i, text = next(cycle)
                        if role_i == role:
                            window.append(text.replace(MADE_UP, f"{MADE_UP}{next(fresh)}l"))
                    self._volley(role, window)

            send(LEAK_WARM_UP)  # first-time allocations (caches, arenas) are not a leak
            rss0 = self.world.rss_kb()
            send(share)
            rss1 = self.world.rss_kb()
            growth[kind] = [rss0, rss1]
            per_frame = (rss1 - rss0) * 1024 / max(share, 1)
            if rss1 - rss0 > LEAK_KB and per_frame > LEAK_BYTES_PER_FRAME:
                detail = f"RSS {rss0} -> {rss1} kB over {share} frames ({per_frame:.0f} B each)"
                self.found("memory grows with ok-to-made-up requests", suspects[0][0], kind,
                           suspects[0][1], detail, "")  # fmt: skip
        return {"leak_frames_per_kind": share, "leak_rss_kb": growth}

    def _volley(self, role: str, window: list[str]) -> None:
        if self.stopped:
            return
        client = self.client(role)
        sync_id, sync = self.sync_frame()
        try:
            for text in window:
                client.send_text(text)
            client.send_text(sync)
            while True:
                frame = client.recv(FLOOD_WAIT_S)
                if frame.get("code") == "internal":
                    text = self.by_id.get(frame.get("id"), "?")
                    type_ = _type_of(text)
                    self.found("internal (flood)", role, type_, text, str(frame), "")
                if frame.get("id") == sync_id and frame.get("type") in ("ok", "error"):
                    return
        except (Closed, TimeoutError) as exc:
            if role != "anon":
                self.found("connection closed (flood)", role, "?", "", repr(exc), "")
            self.reopen(role, "(flood)")

    def _status(self) -> dict[str, Any]:
        return self.world.clients["admin"].ok("operator_status")

    def _tasks(self) -> int:
        return int(self._status()["tasks"])

    def _live_actors(self) -> int:
        actors = self._status()["actors"]
        return int(actors["live"] + actors.get("restarting", 0) + actors.get("quarantined", 0))


def _type_of(text: str) -> str:
    return text.split('"type": "', 1)[-1].split('"', 1)[0][:30]


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    with attacker_world(tmp_path_factory.mktemp("attacker")) as world:
        attack = Attack(world, Space(world))
        try:
            yield attack
        finally:
            if attack.anon is not None:
                attack.anon.close()


def _report(attack: Attack, memory: dict[str, Any]) -> str:
    lines = [f"{len(attack.findings)} distinct failures; replies {dict(attack.replies)}"]
    for f in sorted(attack.findings.values(), key=lambda f: (f.kind, f.role, f.type_)):
        lines.append(f"- {f.kind} x{f.count} as {f.role} ({f.type_}): {f.detail[:3000]}")
        lines.append(f"    request: {f.request[:400]}")
    lines.append(f"memory: {memory}")
    return "\n".join(lines)


def _memory_findings(attack: Attack, flood: dict[str, Any], before: int, after: int) -> None:
    """Memory, tasks and live actors over the flood (its first and last rounds) as findings."""
    if len(flood.get("samples", ())) < 2:
        return
    (rss0, tasks0, _), (rss1, tasks1, live1) = flood["samples"]
    created = after - before
    checks = {
        "rss grew": (rss1 - rss0 >= RSS_GROWTH_KB, f"{rss0} -> {rss1} kB"),
        "tasks grew": (
            tasks1 - tasks0 >= created + TASK_GROWTH,
            f"{tasks0} -> {tasks1} tasks for {created} new auctions",
        ),
        "live actors without a stream": (
            live1 > after,
            f"{live1} live actors for {after} auctions",
        ),
    }
    for kind, (failed, detail) in checks.items():
        if failed:
            attack.found(kind, "flood", "-", "", detail, "")


@pytest.mark.timeout(120 + EXAMPLES // 20 + (FLOOD + LEAK) // 200)
def test_no_request_of_any_role_hurts_the_server_or_the_store(attack: Attack) -> None:
    world = attack.world
    rss_start = world.rss_kb()
    roles = st.sampled_from([*ROLES, "anon", "buyer", "admin"])  # those who create, twice
    counter = iter(range(10**9))

    @seed(int(SEED or 0))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def send(data: st.DataObject) -> None:
        role = data.draw(roles)
        rid = f"r{next(counter)}"
        type_, text = attack.space.request(data.draw, rid)
        attack.one(role, type_, text, rid)

    send()
    rss_after = world.rss_kb()
    streams_before = len(world.highest_seqs())
    flood = attack.flood(FLOOD)
    streams_after = len(world.highest_seqs())
    memory: dict[str, Any] = {"rss_start_kb": rss_start, "rss_after_examples_kb": rss_after}
    memory.update(flood)
    _memory_findings(attack, flood, streams_before, streams_after)
    memory.update(attack.leak(LEAK))
    trouble = world.live.trouble()
    if trouble:  # the log names what failed inside; the first lines, de-duplicated
        firsts = sorted({" ".join(line.split()[2:])[:160] for line in trouble})
        attack.found("errors in the server's log", "-", "-", "", "\n".join(firsts[:30]), "")
    if REPORT:
        Path(REPORT).write_text(
            json.dumps(
                {"findings": [f.__dict__ for f in attack.findings.values()], "memory": memory,
                 "replies": dict(attack.replies), "by_type": dict(attack.by_type),
                 "messages": dict(attack.messages)},
                indent=1,
            )
        )  # fmt: skip
    report = _report(attack, memory)
    print(report)
    assert world.alive(), "the server died\n" + report
    assert not attack.findings, report
