"""Chaos: SIGKILL a real ``auctionactors serve`` at random moments under real traffic, restart it
on the same SQLite file, and check that nothing promised was lost and nothing drifted.

    .venv/bin/python scripts/chaos.py --rounds 100 --seed 1

Each round starts ``serve --port 0`` on the one database file, checks everything that happened
before (below), starts several client processes (`chaos_clients.py`: suppliers, a buyer, an admin)
that create auctions with short durations and soft-close windows, bid, auto-bid, revoke, select
and cancel over the wire, looks at the live views at a random moment, and SIGKILLs the server at
another (stopped with SIGSTOP a random moment first, so that the clients' commands are in flight
when it dies). Now and then the server is killed while it is still starting up. It stays down for
a random while (deadlines pass meanwhile), then the next round starts it again, and its clients
first send again, each with its idempotency key, what was unanswered at the kill and a few
acknowledged commands (`chaos_retries.py`). After the last round it is started once more,
checked, and stopped with SIGTERM.

The checks, each counted and every failure printed:

- **acks**: every command that got an ``ok`` (the clients append each one to a file) is in the
  log at the seq it was acknowledged with: its bids (ids, user), its revoke, its selection, its
  comment, its new auction;
- **verify**: ``auctionactors verify`` passes after every kill (on the crashed file) and at the
  end; the seqs of every stream are 1..n (no gap, no duplicate), and so are the updates each
  client received over the wire (per auction: increasing, contiguous, never repeated);
- **views**: an auction's live view, by ``get_view`` over the wire (as admin, and as its buyer or
  one of its suppliers), both under traffic before a kill and after each restart, equals
  ``auctionactors replay AUCTION --until-seq SEQ --as COMPANY --json`` (``server_time`` aside);
- **deadlines**: every clock transition happened at or after its stored deadline, and at once:
  within ``--slack`` of the deadline when the server was up, within ``--slack`` of the restart
  when it passed while the server was down, never with extra time (``closes_at`` = start +
  duration, ``decision_closes_at`` = stored ``closes_at`` + decision duration, an extension sets
  ``closes_at`` = now + window and only inside the window); no bid was accepted at or after
  ``closes_at``; no deadline was left unacted once the server had been up past it;
- **keys**: every key's effect is in the log at most once; a retry answered ``ok`` names its one
  application (same seq, same ids), an acknowledged command sent again gets the same reply, and
  a refused retry was never applied (see `chaos_retries.py`).

Exit status 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos_retries import Retries
from harness import REPO, Lifetime, Server, connected, make_users, now_us, run_cli

from auctionactors.client import Client, ClientError
from auctionactors.domain.events import (
    AuctionCanceled,
    AuctionCreated,
    AuctionEnded,
    AuctionExpired,
    AuctionStarted,
    BidPlaced,
    BidsRevoked,
    CommentPosted,
    DurationExtended,
    Event,
    WinningSolutionSelected,
)
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import FINAL_STATUSES
from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.store.base import NewUser
from auctionactors.store.codec import decode_event
from auctionactors.store.sqlite import SqliteEventStore

HERE = Path(__file__).resolve().parent
STARTUP_TIMEOUT_S = 60.0
CLIENT_EXIT_TIMEOUT_S = 30.0
# What in the server's log means trouble here: crashes and quarantines are logged as ERROR.
TROUBLE = ("Traceback", "ERROR", "crashed", "quarantined", "failed")


# --- users and clients ----------------------------------------------------------------------


@dataclass
class Users:
    admin: NewUser
    buyer: NewUser
    suppliers: list[NewUser]

    def by_company(self) -> dict[str, NewUser]:
        return {u.company_id: u for u in (self.admin, self.buyer, *self.suppliers)}


def make_chaos_users(db: Path, suppliers: int) -> Users:
    people = {
        "admin": ("Chaos Platform", "admin", "Ada"),
        "buyer": ("Chaos Shipping", "buyer", "Bea"),
    }
    people |= {
        f"s{i}": (f"Chaos Fuels {i}", "supplier", f"Sam {i}") for i in range(1, suppliers + 1)
    }
    users = make_users(db, people)
    return Users(users.pop("admin"), users.pop("buyer"), list(users.values()))


def wait_until_ready(clients: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    """Until every client is connected and subscribed (or gone), at most a while."""
    deadline = time.monotonic() + CLIENT_EXIT_TIMEOUT_S
    while time.monotonic() < deadline:
        waiting = [
            p
            for p, summary in clients
            if p.poll() is None and not summary.with_suffix(".ready").exists()
        ]
        if not waiting:
            return
        time.sleep(0.02)


def start_clients(
    users: Users,
    url: str,
    folder: Path,
    rng: random.Random,
    max_s: float,
    pause_s: float,
    retry: dict[str, list[dict[str, Any]]],
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """A client process per user; ``retry``: the commands each user sends again first."""
    folder.mkdir(parents=True, exist_ok=True)
    common = {
        "url": url,
        "suppliers": [u.company_id for u in users.suppliers],
        "buyer": users.buyer.company_id,
        "max_s": max_s,
        "pause_s": pause_s,
    }
    people = [("admin", users.admin), ("buyer", users.buyer)]
    people += [("supplier", u) for u in users.suppliers]
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    for role, user in people:
        name = f"{role}-{user.user_id}"
        spec = {
            **common,
            "role": role,
            "token": user.token,
            "user_id": user.user_id,
            "company_id": user.company_id,
            "seed": rng.randrange(2**32),
            "key_prefix": f"{folder.name}.{user.user_id}",
            "retry": retry.get(user.user_id, []),
            **{f: str(folder / f"{name}.{f}") for f in ("acks", "pending", "retried")},
            "summary": str(folder / f"{name}.summary"),
            "ready": str(folder / f"{name}.ready"),
        }
        spec_path = folder / f"{name}.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "chaos_clients.py"), str(spec_path)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / f"{name}.err", "w"),  # noqa: SIM115 - the child owns it
        )
        started.append((proc, folder / f"{name}.summary"))
    return started


# --- the offline view of the log ------------------------------------------------------------


class Log:
    """Every stream of the database, decoded, kept up to date incrementally (append-only)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.events: dict[str, list[Event]] = {}
        self.states: dict[str, AuctionState] = {}
        self.changed: set[str] = set()

    def status(self, auction_id: str) -> str:
        state = self.states.get(auction_id)
        return "none" if state is None else state.status

    async def refresh(self) -> list[str]:
        """Read what was appended since the last call; returns problems found."""
        problems: list[str] = []
        async with await SqliteEventStore.open(self.db, read_only=True) as store:
            for info in await store.streams():
                events = self.events.setdefault(info.stream_id, [])
                if info.highest_seq == len(events):
                    continue
                if info.highest_seq < len(events):
                    problems.append(f"{info.stream_id}: log shrank to seq {info.highest_seq}")
                    continue
                records = await store.read_stream(info.stream_id, from_seq=len(events) + 1)
                for record in records:
                    if record.seq != len(events) + 1:
                        problems.append(
                            f"{info.stream_id}: seq {record.seq} after {len(events)} (gap/dup)"
                        )
                        break
                    event = decode_event(record)
                    events.append(event)
                    self.states[info.stream_id] = evolve(self.states.get(info.stream_id), event)
                self.changed.add(info.stream_id)
        return problems


def check_ack(ack: dict[str, Any], events: list[Event]) -> str | None:
    """Why an acknowledged command is not in the log as acknowledged, or None if it is."""
    seq, kind, user = int(ack["seq"]), ack["kind"], ack["user_id"]
    if len(events) < seq:
        return f"log ends at seq {len(events)}"
    own = events[:seq]
    by_user = [(i, e) for i, e in enumerate(own, 1) if e.by is not None and e.by.user_id == user]
    if kind == "create_auction":
        first = events[0]
        if not isinstance(first, AuctionCreated) or first.by is None or first.by.user_id != user:
            return "no auction_created by this user at seq 1"
        return None
    if kind == "place_bids":
        placed = {e.bid_id: i for i, e in by_user if isinstance(e, BidPlaced)}
        at = events[seq - 1].at
        for bid_id in ack["bid_ids"]:
            i = placed.get(bid_id)
            if i is None:
                return f"bid {bid_id} not in the log"
            if own[i - 1].at != at:
                return f"bid {bid_id} at seq {i} is not part of the command ending at seq {seq}"
        return None
    last = events[seq - 1]
    if kind == "revoke_bid":
        revoked = [
            i
            for i, e in by_user
            if isinstance(e, BidsRevoked) and e.product_id == ack["product_id"] and e.at == last.at
        ]
        return None if revoked else f"no bids_revoked of {ack['product_id']} ending at seq {seq}"
    if kind == "select_solution":
        chosen = [i for i, e in by_user if isinstance(e, WinningSolutionSelected)]
        return None if chosen == [seq - 1] else f"winning_solution_selected at {chosen}, not {seq}"
    if kind == "cancel_auction":
        return None if isinstance(last, AuctionCanceled) else f"seq {seq} is not auction_canceled"
    if kind == "start_auction":
        return None if isinstance(last, AuctionStarted) or _started(own) else "never started"
    if kind == "post_comment":
        posted = [e for _, e in by_user if isinstance(e, CommentPosted)]
        ok = any(e.comment_id == ack["comment_id"] for e in posted)
        return None if ok else f"comment {ack['comment_id']} not in the log"
    return None  # rsvp, barges, edits: may record nothing; the seq exists


def _started(events: Sequence[Event]) -> bool:
    return any(isinstance(e, AuctionStarted) for e in events)


# --- deadlines ------------------------------------------------------------------------------


@dataclass
class DeadlineStats:
    checked: int = 0
    during_outage: int = 0
    max_late_up_s: float = 0.0  # after the deadline, the server up
    # For deadlines passed while down: from the restarted server's spawn to the transition,
    # and how many of them were acted on before that server even listened.
    max_after_spawn_s: float = 0.0
    before_ready: int = 0


class Deadlines:
    """Every clock transition against the server's lifetimes (see the module docstring)."""

    def __init__(self, lifetimes: list[Lifetime], slack_s: float) -> None:
        self.lifetimes = lifetimes
        self.slack = round(slack_s * SECOND)
        self.stats = DeadlineStats()

    def latest(self, deadline: int) -> tuple[int, Lifetime | None] | None:
        """When the transition due at ``deadline`` must have happened by, and the server that
        had to act on it if the deadline fell while no server was serving (None: one was up);
        None if no server has lived long enough since."""
        for lt in self.lifetimes:
            if lt.ready is None:
                continue  # killed while starting: it may only have acted early, never late
            if lt.killed is not None and lt.killed < deadline:
                continue
            t = max(deadline, lt.ready)
            if lt.killed is None or lt.killed >= t + self.slack:
                return t + self.slack, (lt if deadline < lt.ready else None)
        return None

    def audit(self, auction_id: str, events: list[Event], read_at: int) -> list[str]:
        problems: list[str] = []
        state: AuctionState | None = None
        for seq, event in enumerate(events, 1):
            if state is not None:
                problems += [
                    f"{auction_id} seq {seq} ({type(event).__name__}): {p}"
                    for p in self._event(state, event)
                ]
            state = evolve(state, event)
        if state is not None:
            deadline = state.next_deadline()
            bound = None if deadline is None else self.latest(deadline)
            if bound is not None and bound[0] < read_at:
                problems.append(
                    f"{auction_id}: {state.status} past its deadline {fmt(deadline)} "
                    f"(the server was up past {fmt(bound[0])})"
                )
        return problems

    def _event(self, state: AuctionState, event: Event) -> list[str]:
        terms, at = state.terms, event.at
        if isinstance(event, AuctionStarted):
            if event.by is None:
                start = terms.scheduled_start
                assert start is not None
                return [
                    *self._on_time("start", start, at),
                    *_expect("closes_at", event.closes_at, start + terms.duration_s * SECOND),
                ]
            return _expect("closes_at", event.closes_at, at + terms.duration_s * SECOND)
        if isinstance(event, AuctionEnded):
            closes_at = state.closes_at
            assert closes_at is not None
            expected = closes_at + terms.decision_duration_s * SECOND
            return [
                *([] if state.status == "open" else [f"ended while {state.status}"]),
                *self._on_time("closes_at", closes_at, at),
                *_expect("decision_closes_at", event.decision_closes_at, expected),
            ]
        if isinstance(event, AuctionExpired):
            decision_closes_at = state.decision_closes_at
            assert decision_closes_at is not None
            return self._on_time("decision_closes_at", decision_closes_at, at)
        if isinstance(event, BidPlaced):
            return _bid_in_time(state, at)
        if isinstance(event, DurationExtended):
            old = state.closes_at
            assert old is not None
            window = terms.soft_close_s * SECOND
            problems = _expect("closes_at", event.closes_at, at + window)
            if not at < old or old - at > window:
                problems.append(f"extended at {fmt(at)}, outside the window before {fmt(old)}")
            return problems
        if isinstance(event, WinningSolutionSelected):
            closes = state.decision_closes_at
            if state.status == "decision" and closes is not None and at >= closes:
                return [f"selected at {fmt(at)}, after decision closed"]
            if state.status not in ("open", "decision", "expired"):
                return [f"selected while {state.status}"]
        return []

    def _on_time(self, what: str, deadline: int, at: int) -> list[str]:
        self.stats.checked += 1
        if at < deadline:
            return [f"acted at {fmt(at)}, before its {what} {fmt(deadline)}"]
        bound = self.latest(deadline)
        if bound is None:
            return []
        latest, restarted = bound
        outage = restarted is not None
        if restarted is not None:
            self.stats.during_outage += 1
            after_spawn = (at - restarted.started) / SECOND
            self.stats.max_after_spawn_s = max(self.stats.max_after_spawn_s, after_spawn)
            self.stats.before_ready += at <= (restarted.ready or 0)
        else:
            self.stats.max_late_up_s = max(self.stats.max_late_up_s, (at - deadline) / SECOND)
        if at > latest:
            when = "after the restart" if outage else "after it"
            return [f"{what} {fmt(deadline)} acted on at {fmt(at)}: too late {when}"]
        return []


def _bid_in_time(state: AuctionState, at: int) -> list[str]:
    if state.status == "open" and state.closes_at is not None and at >= state.closes_at:
        return [f"bid accepted at {fmt(at)}, not before closes_at {fmt(state.closes_at)}"]
    start = state.terms.scheduled_start
    if state.status == "pending" and start is not None and at >= start:
        return [f"bid accepted at {fmt(at)} in pending past the start {fmt(start)}"]
    if state.status not in ("pending", "open"):
        return [f"bid accepted while {state.status}"]
    return []


def _expect(what: str, got: int, expected: int) -> list[str]:
    return [] if got == expected else [f"{what} {fmt(got)}, expected {fmt(expected)}"]


def fmt(t: int | None) -> str:
    return "-" if t is None else format_instant(t)


# --- views over the wire and replayed offline -----------------------------------------------


@dataclass
class Probe:
    auction_id: str
    company_id: str
    seq: int
    view: dict[str, Any]


async def _request(client: Client, kind: str, **fields: Any) -> dict[str, Any]:
    for attempt in range(50):
        try:
            return await client.request(kind, **fields)
        except ClientError as exc:
            if exc.code != "rate_limited" or attempt == 49:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


async def probe_views(
    url: str, users: Users, auction_ids: list[str], rng: random.Random
) -> tuple[list[Probe], list[str]]:
    """``get_view`` as admin, then as the buyer or one invited supplier, for each auction."""
    probes: list[Probe] = []
    problems: list[str] = []
    by_company = users.by_company()
    clients: dict[str, Client] = {}
    try:
        for auction_id in auction_ids:
            targets = [users.admin.company_id]
            for company_id in targets:
                client = clients.get(company_id)
                if client is None:
                    # Protocol 1: whole views with the bid history, as `replay --as` prints them.
                    token = by_company[company_id].token
                    client = await connected(url, token, reconnect=False, protocol=1)
                    clients[company_id] = client
                try:
                    reply = await _request(client, "get_view", auction_id=auction_id)
                except ClientError as exc:
                    problems.append(f"{auction_id}: get_view as {company_id}: {exc}")
                    continue
                view = reply["view"]
                probes.append(Probe(auction_id, company_id, int(reply["seq"]), view))
                if company_id == users.admin.company_id:
                    invited = [s["id"] for s in view.get("suppliers", []) if s["id"] in by_company]
                    if view["status"] == "draft":
                        invited = []  # a draft is the buyer's and the admins' only
                    targets.append(rng.choice([users.buyer.company_id, *invited]))
    finally:
        for client in clients.values():
            await client.close()
    return probes, problems


def compare(db: Path, probe: Probe) -> str | None:
    code, out, err = run_cli(
        "replay",
        probe.auction_id,
        "--db",
        str(db),
        "--until-seq",
        str(probe.seq),
        "--as",
        probe.company_id,
        "--json",
    )
    if code != 0:
        return f"replay --as {probe.company_id} failed ({code}): {err.strip()}"
    offline = json.loads(out)
    live = dict(probe.view)
    offline.pop("server_time", None)
    live.pop("server_time", None)
    if offline == live:
        return None
    keys = sorted(k for k in set(offline) | set(live) if offline.get(k) != live.get(k))
    return f"view as {probe.company_id} at seq {probe.seq} differs from replay in {keys}"


# --- the run --------------------------------------------------------------------------------


@dataclass
class Totals:
    acks: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    views: int = 0
    verifies: int = 0
    startup_kills: int = 0
    failures: list[str] = field(default_factory=list)


class Chaos:
    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.db = folder / "chaos.db"
        self.rng = random.Random(args.seed)
        self.lifetimes: list[Lifetime] = []
        self.log = Log(self.db)
        self.deadlines = Deadlines(self.lifetimes, args.slack)
        self.totals = Totals()
        self.pending_acks: list[dict[str, Any]] = []
        self.pending_probes: list[Probe] = []
        self.users = make_chaos_users(self.db, args.suppliers)
        self.retries = Retries(self.db, args.resends, random.Random(f"{args.seed} retries"))

    def fail(self, where: str, problem: str) -> None:
        line = f"FAIL [{where}] {problem}"
        self.totals.failures.append(line)
        print(line, flush=True)

    def run(self) -> None:
        for n in range(1, self.args.rounds + 1):
            self.round(n)
        server = self.start(self.args.rounds + 1)
        self.check_live(server.wait_ready(STARTUP_TIMEOUT_S), "final")
        code = server.stop()
        if code != 0:
            self.fail("final", f"serve exited {code} on SIGTERM")
        self.check_server_log(server, "final")
        self.verify("final")

    def start(self, n: int) -> Server:
        # Passivation, snapshots and batching on, and often: every auction is unloaded and
        # reloaded from a snapshot many times per round.
        runtime = ("--passivate-after", str(self.args.passivate_after),
                   "--snapshot-every", str(self.args.snapshot_every))  # fmt: skip
        server = Server(self.db, self.folder / f"serve-{n}.log", *runtime, wait=False)
        self.lifetimes.append(server.lifetime)
        return server

    def round(self, n: int) -> None:
        args, rng = self.args, self.rng
        started = time.monotonic()
        server = self.start(n)
        if rng.random() < args.startup_kill_rate:
            time.sleep(rng.uniform(0, 0.6))  # SIGKILL while it starts up (replay, deadlines)
            server.kill()
            self.totals.startup_kills += 1
            mode = "killed while starting"
            checked = 0
        else:
            url = server.wait_ready(STARTUP_TIMEOUT_S)
            checked = self.check_live(url, f"round {n}")
            everyone = (self.users.admin, self.users.buyer, *self.users.suppliers)
            retry = {u.user_id: self.retries.take(u.user_id, self.log.events) for u in everyone}
            clients = start_clients(
                self.users,
                url,
                self.folder / f"round-{n}",
                rng,
                max_s=args.max_up + CLIENT_EXIT_TIMEOUT_S,
                pause_s=args.pause,
                retry=retry,
            )
            wait_until_ready(clients)
            traffic = time.monotonic()
            up = rng.uniform(args.min_up, args.max_up)
            time.sleep(rng.uniform(0, up))
            self.sweep(url, f"round {n}")
            time.sleep(max(0.0, up - (time.monotonic() - traffic)))
            server.kill(hold_s=rng.uniform(0, args.max_hold))  # stopped: commands in flight
            self.collect(clients, f"round {n}")
            mode = f"up {(server.lifetime.killed or 0) - (server.lifetime.ready or 0):,} us"
        self.check_server_log(server, f"round {n}")
        self.verify(f"round {n}")
        self.compare_pending(f"round {n}")
        time.sleep(rng.uniform(0, args.max_down))  # down: deadlines pass meanwhile
        new_acks = len(self.pending_acks)
        print(
            f"round {n}/{args.rounds}: {mode}, {checked} acks checked, {new_acks} new acks, "
            f"{len(self.log.events)} auctions, {self.totals.views} views compared, "
            f"{len(self.totals.failures)} failures ({time.monotonic() - started:.1f} s)",
            flush=True,
        )

    def check_live(self, url: str, where: str) -> int:
        """After a restart: acks, deadlines and views of everything that changed."""
        read_at = now_us()
        for problem in asyncio.run(self.log.refresh()):
            self.fail(where, problem)
        acks, self.pending_acks = self.pending_acks, []
        for ack in acks:
            self.totals.acks[ack["kind"]] += 1
            events = self.log.events.get(str(ack["auction_id"]), [])
            lost = check_ack(ack, events)
            if lost is not None:
                self.fail(where, f"acknowledged {ack['kind']} {ack} lost: {lost}")
        for problem in self.retries.check(self.log.events):
            self.fail(where, problem)
        todo = sorted(
            a
            for a in self.log.events
            if a in self.log.changed or self.log.status(a) not in FINAL_STATUSES
        )
        self.log.changed.clear()
        for auction_id in todo:
            for problem in self.deadlines.audit(auction_id, self.log.events[auction_id], read_at):
                self.fail(where, problem)
        probes, problems = asyncio.run(probe_views(url, self.users, todo, self.rng))
        for problem in problems:
            self.fail(where, problem)
        self.pending_probes += probes
        self.compare_pending(where)
        return len(acks)

    def sweep(self, url: str, where: str) -> None:
        """Views under traffic, compared with the replay after the kill."""
        live = [a for a in self.log.events if self.log.status(a) not in FINAL_STATUSES]
        try:
            probes, problems = asyncio.run(probe_views(url, self.users, sorted(live), self.rng))
        except ClientError as exc:
            self.fail(where, f"views under traffic: {exc}")
            return
        for problem in problems:
            if "not_found" not in problem:  # created after the last refresh: not ours to know
                self.fail(where, problem)
        self.pending_probes += probes

    def compare_pending(self, where: str) -> None:
        probes, self.pending_probes = self.pending_probes, []
        for probe in probes:
            problem = compare(self.db, probe)
            self.totals.views += 1
            if problem is not None:
                self.fail(where, f"{probe.auction_id}: {problem}")

    def collect(self, clients: list[tuple[subprocess.Popen[bytes], Path]], where: str) -> None:
        """Wait for the clients (they stop once the server is gone); take their acks."""
        deadline = time.monotonic() + CLIENT_EXIT_TIMEOUT_S
        for proc, summary_path in clients:
            try:
                code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                self.fail(where, f"client {summary_path.stem} did not stop")
                continue
            if code != 0:
                err = summary_path.with_suffix(".err").read_text()[-2000:]
                self.fail(where, f"client {summary_path.stem} exited {code}: {err}")
                continue
            summary = json.loads(summary_path.read_text())
            self.totals.outcomes.update(summary["outcomes"])
            for problem in summary["wire_failures"]:
                self.fail(where, f"client {summary_path.stem}: {problem}")
            acks_path = summary_path.with_suffix(".acks")
            if acks_path.exists():
                for line in acks_path.read_text().splitlines():
                    self.pending_acks.append(json.loads(line))
            self.retries.collect(summary_path, summary["user_id"])

    def verify(self, where: str) -> None:
        code, out, err = run_cli("verify", "--db", str(self.db), "--json")
        self.totals.verifies += 1
        if code != 0:
            self.fail(where, f"verify exited {code}: {out.strip()[:2000]} {err.strip()}")

    def check_server_log(self, server: Server, where: str) -> None:
        for line in server.trouble(TROUBLE)[:20]:
            self.fail(where, f"server log: {line}")


def census(log: Log) -> str:
    """What the run's auctions went through: final statuses and notable events."""
    statuses = Counter(state.status for state in log.states.values())
    kinds = Counter(type(e).__name__ for events in log.events.values() for e in events)
    notable = ("DurationExtended", "AutoBidTriggered", "AuctionEnded", "WinningSolutionSelected")
    return (
        f"{len(log.states)} auctions, now {dict(sorted(statuses.items()))}; "
        f"{sum(kinds.values())} events, of which " + ", ".join(f"{kinds[k]} {k}" for k in notable)
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=100, help="SIGKILLs (default 100)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--suppliers", type=int, default=3, help="supplier client processes")
    p.add_argument("--min-up", type=float, default=0.5, help="least traffic before a kill, s")
    p.add_argument("--max-up", type=float, default=4.0, help="most traffic before a kill, s")
    p.add_argument("--max-down", type=float, default=2.0, help="longest outage, s")
    p.add_argument("--pause", type=float, default=0.06, help="a client's longest pause, s")
    p.add_argument("--slack", type=float, default=2.0, help="how late 'at once' may be, s")
    p.add_argument(
        "--startup-kill-rate", type=float, default=0.1, help="share of kills during startup"
    )
    p.add_argument(
        "--max-hold", type=float, default=0.3, help="longest SIGSTOP before a SIGKILL, s"
    )
    p.add_argument(
        "--resends", type=int, default=2, help="acknowledged commands re-sent per client and round"
    )
    p.add_argument(
        "--passivate-after", type=float, default=0.2, help="serve's idle time before unloading, s"
    )
    p.add_argument("--snapshot-every", type=int, default=7, help="serve's events between snapshots")
    p.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(2**31)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="chaos-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"chaos: {args.rounds} rounds, seed {args.seed}, {args.suppliers} suppliers "
        f"+ a buyer + an admin (client processes), work folder {folder}",
        flush=True,
    )
    began = time.monotonic()
    chaos = Chaos(args, folder)
    try:
        chaos.run()
    finally:
        totals = chaos.totals
        acks = sum(totals.acks.values())
        d = chaos.deadlines.stats
        print(
            f"chaos: {args.rounds} rounds ({totals.startup_kills} killed while starting), "
            f"seed {args.seed}: {acks} acknowledged commands checked "
            f"({', '.join(f'{k} {v}' for k, v in totals.acks.most_common())}); "
            f"{totals.views} views compared with replay; {totals.verifies} verify runs; "
            f"{d.checked} deadlines checked ({d.during_outage} passed while down: acted on "
            f"at most {d.max_after_spawn_s:.3f} s after the restarted server was spawned, "
            f"{d.before_ready} of them before it listened; while up, timers at most "
            f"{d.max_late_up_s:.3f} s late); {len(totals.failures)} failures; "
            f"wall {time.monotonic() - began:.1f} s",
            flush=True,
        )
        print(f"chaos: the auctions: {census(chaos.log)}", flush=True)
        r = chaos.retries.stats
        not_applied = {k.split()[1]: v for k, v in sorted(r.items()) if k.startswith("refused")}
        print(
            f"chaos: keyed retries: {r['retried unanswered']} commands unanswered at a kill "
            f"retried with their key ({r['applied before the kill']} had been applied: answered "
            f"with that result; {r['applied by it']} applied by the retry; refused, not applied: "
            f"{not_applied}); {r['re-sent acknowledged']} acknowledged commands re-sent "
            f"({r['same reply']} answered with the original reply); {chaos.retries.left()} "
            f"left unanswered at the end; {r['keys in the log']} keys in the log, each applied "
            "at most once unless a failure says otherwise",
            flush=True,
        )
        refused = {k: v for k, v in totals.outcomes.items() if not k.endswith(":ok")}
        print(f"chaos: refusals and errors seen by clients: {dict(sorted(refused.items()))}")
        if args.dir is None and not args.keep and not totals.failures:
            shutil.rmtree(folder, ignore_errors=True)
    return 1 if chaos.totals.failures else 0


if __name__ == "__main__":
    sys.exit(main())
