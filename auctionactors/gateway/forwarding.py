"""Forwarding between nodes (cluster mode): the frames of a node link and the owner's side.

A command for an auction another node owns is sent to that node over a *node link* (a WebSocket
to its ``/cluster`` path, opened with the cluster's node credential, see `links`), with the
domain command as the client's node built it (the caller checked and the companies resolved
there), the time the client's node received it (the command is decided at that time, PROTOCOL.md
1.1) and its idempotency key. The owner asks its own supervisor and answers with the reply or the
error; the client's node answers the client. Frames are msgpack (msgspec), several in flight on a
link at once, matched by ``id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import msgspec

from auctionactors.domain.commands import AnyCommand
from auctionactors.errors import (
    ActorCrashed,
    AuctionActorsError,
    CommandTimedOut,
    DomainError,
    NotOwner,
    Unavailable,
)
from auctionactors.runtime.mailbox import CommandKey, Reply
from auctionactors.runtime.receipts import Receipt
from auctionactors.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)


class Forward(msgspec.Struct, frozen=True, tag="forward"):
    id: int
    auction_id: str
    command: AnyCommand
    received_at: int
    key: CommandKey | None


class Answer(msgspec.Struct, frozen=True, tag="answer"):
    id: int
    seq: int
    fields: dict[str, Any]


class Failure(msgspec.Struct, frozen=True, tag="failure"):
    """The owner's error: ``code`` and ``message`` as the client would get them; ``moved`` when
    the node asked does not own the auction (any more): the sender asks the new owner."""

    id: int
    code: str
    message: str
    moved: bool = False


LinkFrame = Forward | Answer | Failure
encode = msgspec.msgpack.Encoder().encode
decode = msgspec.msgpack.Decoder(LinkFrame).decode


def reply_of(frame: Answer) -> Reply:
    return Reply(frame.seq, frame.fields)


def error_of(frame: Failure) -> AuctionActorsError:
    """The exception the client's node raises for the owner's ``Failure``: the same code."""
    if frame.code == "unavailable":
        return Unavailable(frame.message)
    if frame.code == "timeout":
        return CommandTimedOut(frame.message)
    if frame.code == "internal":
        return ActorCrashed(frame.message)
    return DomainError(frame.code, frame.message)  # type: ignore[arg-type]


async def answer(supervisor: Supervisor, forward: Forward) -> Answer | Failure:
    """The owner's side: ask the local supervisor, as for a client of this node."""
    try:
        reply = await supervisor.ask(
            forward.auction_id,
            forward.command,
            receipt=Receipt(forward.received_at),
            key=forward.key,
        )
    except NotOwner as exc:
        return Failure(forward.id, "unavailable", str(exc), moved=True)
    except DomainError as exc:
        return Failure(forward.id, exc.code, exc.message)
    except AuctionActorsError as exc:
        return Failure(forward.id, exc.code, str(exc))
    except Exception:
        log.exception("forwarded %s failed", type(forward.command).__name__)
        return Failure(forward.id, "internal", "internal error")
    return Answer(forward.id, reply.seq, reply.fields)


async def serve_link(
    supervisor: Supervisor,
    frames: AsyncIterable[bytes | str],
    send: Callable[[bytes], Awaitable[None]],
) -> None:
    """Serve one node link until it closes: every ``Forward`` is answered in its own task (a
    slow auction never holds up another's)."""
    tasks: set[asyncio.Task[None]] = set()

    async def one(forward: Forward) -> None:
        result = await answer(supervisor, forward)
        await send(encode(result))

    try:
        async for data in frames:
            frame = decode(data if isinstance(data, bytes) else data.encode())
            if isinstance(frame, Forward):
                task = asyncio.get_running_loop().create_task(one(frame))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
