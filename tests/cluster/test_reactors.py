"""Notifications in cluster mode: two real ``serve`` nodes on one PostgreSQL database, both with
``--smtp`` and ``--webhook``, real receivers (tests/receivers.py). Each reactor runs on exactly
one node at a time; SIGKILL that node in the middle of its deliveries and the other takes over
from the checkpoint: every expected mail and webhook arrives, and a repeat comes only with the
same id and only if its acceptance had not been recorded before the kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from auctionactors.cli import main
from auctionactors.runtime.webhooks import hook_tag
from tests.cli.test_notifications import (
    MAILS_PER_AUCTION,
    _accepted,
    _drive,
    _no_repeat_of_accepted,
    _options,
    _rows,
    _users,
)
from tests.cluster.test_serve import settled
from tests.faults.serving import Serving, serving
from tests.receivers import HookSink, MailSink

NODES = ("n1", "n2")


@contextmanager
def _node(pg_url: str, name: str, smtp: MailSink, hook: HookSink) -> Iterator[Serving]:
    with serving(pg_url, "--node-id", name, "--lease", "2", *_options(smtp, hook)) as served:
        yield served


def _leaders(pg_url: str) -> dict[str, str | None]:
    return dict(_rows(pg_url, "SELECT name, owner FROM cluster_roles"))


def _wait_for_leaders(pg_url: str, names: set[str], among: set[str]) -> dict[str, str]:
    """Wait until every reactor of ``names`` has a leader among ``among`` (bounded wait)."""
    for _ in range(600):
        held = _leaders(pg_url)
        if all(held.get(n) in among for n in names):
            return {n: str(held[n]) for n in names}
        asyncio.run(asyncio.sleep(0.05))
    raise AssertionError(f"no leader among {among}: {_leaders(pg_url)}")


def test_two_nodes_exactly_one_runs_each_reactor(
    pg_url: str, smtp: MailSink, hook: HookSink, capsys: pytest.CaptureFixture[str]
) -> None:
    users = asyncio.run(_users(pg_url))
    names = {"mail", f"webhook {hook.url}"}
    with ExitStack() as stack:
        nodes = {n: stack.enter_context(_node(pg_url, n, smtp, hook)) for n in NODES}
        asyncio.run(settled(pg_url, 2))
        leaders = _wait_for_leaders(pg_url, names, set(NODES))
        auctions = asyncio.run(_drive(nodes["n2"].url, users, 3))
        auctions += asyncio.run(_drive(nodes["n1"].url, users, 3))
        want_hooks = len(auctions) * 3
        smtp.wait_until(lambda: len(smtp.mails) >= len(auctions) * MAILS_PER_AUCTION, timeout=60)
        hook.wait_until(lambda: len(hook.hooks) >= want_hooks, timeout=60)
        # status: which node runs each reactor, and its lag (0 once it has caught up)
        for _ in range(600):
            capsys.readouterr()
            assert main(["status", "--db", pg_url, "--json"]) == 0
            listed = json.loads(capsys.readouterr().out)["reactors"]
            if all(r["behind"] == 0 for r in listed):
                break
            asyncio.run(asyncio.sleep(0.05))
        assert {r["name"]: r["node"] for r in listed} == leaders
        assert main(["status", "--db", pg_url]) == 0
        text = capsys.readouterr().out
        assert f"reactor mail: on {leaders['mail']}, 0 events behind" in text
    # exactly one node delivered: nothing arrived twice, not even with the same id
    assert Counter(smtp.ids()).most_common(1)[0][1] == 1
    assert Counter(hook.ids()).most_common(1)[0][1] == 1
    events = _rows(pg_url, "SELECT stream_id, seq FROM events")
    assert sorted(hook.ids()) == sorted(f"{a}.{s}.{hook_tag(hook.url)}" for a, s in events)
    assert len(smtp.mails) == len(auctions) * MAILS_PER_AUCTION


def test_sigkill_of_the_leader_mid_deliveries_the_other_node_takes_over(
    pg_url: str, smtp: MailSink, hook: HookSink
) -> None:
    users = asyncio.run(_users(pg_url))
    hook_name = f"webhook {hook.url}"
    names = {"mail", hook_name}
    auctions: list[str] = []
    before_kill: list[tuple[int, int, dict[str, int], set[str]]] = []
    with ExitStack() as stack:
        nodes = {n: stack.enter_context(_node(pg_url, n, smtp, hook)) for n in NODES}
        asyncio.run(settled(pg_url, 2))
        leader = _wait_for_leaders(pg_url, names, set(NODES))[hook_name]
        other = next(n for n in NODES if n != leader)
        mails_at, hooks_at = len(smtp.mails), len(hook.hooks)
        auctions += asyncio.run(_drive(nodes[other].url, users, 4))
        # deliveries are flowing from the leader: kill it, with no shutdown at all
        hook.wait_until(lambda: len(hook.hooks) > hooks_at + 1)
        smtp.wait_until(lambda: len(smtp.mails) > mails_at + 2)
        os.kill(nodes[leader].proc.pid, signal.SIGKILL)
        nodes[leader].proc.wait(timeout=10)
        before_kill.append((len(smtp.mails), len(hook.hooks), *_accepted(pg_url)))
        # the survivor takes the reactors over and delivers the rest, and what comes next
        assert _wait_for_leaders(pg_url, names, {other}) == {n: other for n in names}
        auctions += asyncio.run(_drive(nodes[other].url, users, 2))
        want_mails = len(auctions) * MAILS_PER_AUCTION
        want_hooks = len(auctions) * 3
        smtp.wait_until(lambda: len(set(smtp.ids())) >= want_mails, timeout=60)
        hook.wait_until(lambda: len(set(hook.ids())) >= want_hooks, timeout=60)
    events = _rows(pg_url, "SELECT stream_id, seq FROM events")
    assert sorted(set(hook.ids())) == sorted(f"{a}.{s}.{hook_tag(hook.url)}" for a, s in events)
    assert all(hook.signed(h) for h in hook.hooks)
    assert len(set(smtp.ids())) == want_mails
    bodies: dict[str, bytes] = {}
    for h in hook.hooks:
        assert bodies.setdefault(h.delivery_id, h.raw) == h.raw  # a repeat is the same delivery
    _no_repeat_of_accepted(pg_url, smtp, hook, before_kill)


def test_a_paused_leader_is_taken_over_and_steps_down_when_it_resumes(
    pg_url: str, smtp: MailSink, hook: HookSink
) -> None:
    users = asyncio.run(_users(pg_url))
    names = {"mail", f"webhook {hook.url}"}
    with ExitStack() as stack:
        nodes = {n: stack.enter_context(_node(pg_url, n, smtp, hook)) for n in NODES}
        asyncio.run(settled(pg_url, 2))
        leader = _wait_for_leaders(pg_url, names, set(NODES))[f"webhook {hook.url}"]
        other = next(n for n in NODES if n != leader)
        os.kill(nodes[leader].proc.pid, signal.SIGSTOP)
        try:
            # evicted past its lease: the other node takes every reactor over (new epochs)
            assert _wait_for_leaders(pg_url, names, {other}) == {n: other for n in names}
            auctions = asyncio.run(_drive(nodes[other].url, users, 2))
        finally:
            os.kill(nodes[leader].proc.pid, signal.SIGCONT)
        asyncio.run(settled(pg_url, 2))  # it rejoined, as a new incarnation
        auctions += asyncio.run(_drive(nodes[leader].url, users, 2))
        smtp.wait_until(lambda: len(smtp.mails) >= len(auctions) * MAILS_PER_AUCTION, timeout=60)
        hook.wait_until(lambda: len(hook.hooks) >= len(auctions) * 3, timeout=60)
        assert _leaders(pg_url) == {n: other for n in names}  # it did not take them back
    # paused while idle: nothing in flight, so nothing arrived twice, not even with its id
    assert Counter(smtp.ids() + hook.ids()).most_common(1)[0][1] == 1
    events = _rows(pg_url, "SELECT stream_id, seq FROM events")
    assert sorted(hook.ids()) == sorted(f"{a}.{s}.{hook_tag(hook.url)}" for a, s in events)
