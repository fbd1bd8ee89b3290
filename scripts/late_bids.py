"""Receipt time measured (PROTOCOL.md 1.1, issue 9 item 5): bids sent shortly before
``closes_at`` over many real connections to a real ``serve`` process. Every bid the server
received before the deadline must be accepted; ``too_late`` only for what arrived at or after.

Run ``.venv/bin/python scripts/late_bids.py`` (a few seconds; ``--connections``, ``--bids`` per
connection, ``--lead-ms`` the earliest a bid is sent before ``closes_at``). Prints how many bids
were sent at least 10 ms before ``closes_at`` and how many of those were refused ``too_late``
(before the fix: 126 of 140). A bid sent 10 ms early can still arrive late on a machine whose
event loops lag more than that, so a loaded machine may show a few.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from served import Server, add_user

from auctionactors.client import Client, ClientError
from auctionactors.domain.timestamps import format_instant, parse_instant


async def measure(url: str, users: dict[str, dict[str, str]], args: argparse.Namespace) -> None:
    suppliers = [users["s1"], users["s2"]]
    async with Client(url, users["admin"]["token"], reconnect=False) as admin:
        auction = {
            "port": "Rotterdam",
            "suppliers": [s["company_id"] for s in suppliers],
            "scheduled_start": format_instant(time.time_ns() // 1000),
            "duration_s": 4,
            "soft_close_s": 0,
            "products": [{"vessel": {"name": "MV Aurora", "imo": "9300001"},
                          "fuel": "VLSFO 0.5%", "quantity_mt": 1500,
                          "eta": "2030-01-01T00:00:00Z"}],
        }  # fmt: skip
        created = await admin.request(
            "create_auction", buyer=users["buyer"]["company_id"], auction=auction
        )
        auction_id = created["auction_id"]
        view = (await admin.request("get_view", auction_id=auction_id))["view"]
    closes_at = parse_instant(view["closes_at"]) / 1e6
    clients = [
        Client(url, suppliers[i % 2]["token"], reconnect=False) for i in range(args.connections)
    ]
    for client in clients:
        await client.connect()
    results: list[tuple[float, str]] = []

    async def one(client: Client, k: int, when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.time()))
        sent = time.time()
        bids = [{"product_id": "p1", "amount": f"{900 - k * 0.25:.2f}"}]
        try:
            await client.request("place_bids", auction_id=auction_id, bids=bids)
            results.append((closes_at - sent, "ok"))
        except ClientError as exc:
            results.append((closes_at - sent, exc.code))

    lead = args.lead_ms / 1000
    jobs = []
    for i, client in enumerate(clients):
        for j in range(args.bids):
            k = i * args.bids + j
            jobs.append(one(client, k, closes_at - lead + (k % 51) * (lead - 0.01) / 50))
    await asyncio.gather(*jobs)
    for client in clients:
        await client.close()
    early = [code for ahead, code in results if ahead >= 0.010]
    print(
        f"{len(results)} bids; sent >= 10 ms before closes_at: {len(early)}, of which too_late: "
        f"{early.count('too_late')}; earliest sent {max(a for a, _ in results) * 1000:.0f} ms "
        "before closes_at"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=12)
    parser.add_argument("--bids", type=int, default=12, help="per connection")
    parser.add_argument("--lead-ms", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "late.db"
        users = {
            "admin": add_user(db, "Platform", "admin", "Ada"),
            "buyer": add_user(db, "Aegean Shipping", "buyer", "Bea"),
            "s1": add_user(db, "Baltic Bunkers", "supplier", "Sam"),
            "s2": add_user(db, "North Sea Fuels", "supplier", "Sue"),
        }
        server = Server(db, Path(tmp) / "serve.log")
        try:
            asyncio.run(measure(server.url, users, args))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
