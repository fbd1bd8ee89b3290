"""The command line of cluster mode: ``status --db postgresql://...`` lists the nodes, their
partitions and lag; ``serve``'s cluster options refuse bad input with one line, exit 2."""

from __future__ import annotations

import asyncio
import json

import pytest

from auctionactors.cli import main
from auctionactors.cluster.ownership import Ownership
from tests.cluster.holder import CONFIG


async def test_status_lists_the_nodes_their_partitions_and_lag(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a = Ownership(pg_url, "a", "ws://10.0.0.1:8765", config=CONFIG)
    b = Ownership(pg_url, "b", "ws://10.0.0.2:8765", config=CONFIG)
    try:
        await a.start()
        await b.start()
        async with asyncio.timeout(20):
            await a.until(lambda: len(a.held) == 6 and len(a.peers) == 2)
            await b.until(lambda: len(b.held) == 6)
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["status", "--db", pg_url, "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        nodes = {n["node_id"]: n for n in listed["nodes"]}
        assert set(nodes) == {"a", "b"}
        assert nodes["a"]["advertise"] == "ws://10.0.0.1:8765"
        assert sorted(nodes["a"]["partitions"] + nodes["b"]["partitions"]) == list(range(12))
        assert all(0 <= n["lag_s"] < 60 for n in nodes.values())
        assert await asyncio.to_thread(main, ["status", "--db", pg_url]) == 0
        text = capsys.readouterr().out
        assert "cluster: 2 nodes" in text and "6 partitions" in text
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--node-id", "no spaces", "bad node id"),
        ("--advertise", "http://h:1", "not ws://HOST:PORT"),
        ("--advertise", "ws://h", "not ws://HOST:PORT"),
        ("--lease", "0", "--lease"),
        ("--smtp", "nowhere", "--smtp must be HOST:PORT"),  # notifications' options too
    ],
)
def test_bad_cluster_options_are_usage_errors(
    option: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = "postgresql://postgres@127.0.0.1:5432/never_opened"
    assert main(["serve", "--db", db, "--port", "0", option, value]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
