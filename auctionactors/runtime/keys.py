"""Idempotency keys in the runtime (PROTOCOL.md 1.1): a command whose key was already applied is
answered with the stored reply (same seq, same ids), never applied again.

A key is stored with its command's events, in the same transaction (`EventStore.append`), so it
is exactly as durable as what it stands for and survives restarts and replays; the key of a
command that changes nothing is stored alone. The actor keeps the recently applied keys of its
auction in a small cache; any other key is looked up in the store only when needed: when the
command is refused, or its append is refused with `DuplicateKey`. A new keyed command thus
costs no extra read.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from auctionactors.errors import DomainError
from auctionactors.runtime.mailbox import CommandKey, Reply
from auctionactors.store.base import EventStore, KeyRecord

CACHED_KEYS = 256


def record_of(scope: str, key: CommandKey, reply: Reply) -> KeyRecord:
    """What is stored for ``key`` once its command is applied with ``reply``."""
    result = msgspec.json.encode(reply.fields)
    return KeyRecord(scope, key.user_id, key.key, key.fingerprint, reply.seq, result)


def replayed(record: KeyRecord, key: CommandKey) -> Reply:
    """The reply to a repeat of an applied key; `DomainError` ``invalid`` when the key was used
    for another command."""
    if record.fingerprint != key.fingerprint:
        raise DomainError("invalid", f"key {key.key!r} was used for another command")
    fields: dict[str, Any] = msgspec.json.decode(record.result)
    return Reply(record.seq, fields)


class KeyCache:
    """The keys applied most recently in one scope (an auction, or ``""`` for creations), most
    recent last; a miss is looked up in the store."""

    def __init__(self, store: EventStore, scope: str, size: int = CACHED_KEYS) -> None:
        self._store = store
        self.scope = scope
        self._size = size
        self._records: OrderedDict[tuple[str, str], KeyRecord] = OrderedDict()

    def cached(self, key: CommandKey) -> KeyRecord | None:
        return self._records.get((key.user_id, key.key))

    def remember(self, record: KeyRecord) -> None:
        self._records[(record.user_id, record.key)] = record
        self._records.move_to_end((record.user_id, record.key))
        while len(self._records) > self._size:
            self._records.popitem(last=False)

    async def find(self, key: CommandKey) -> KeyRecord | None:
        """The stored record of ``key`` (cache first), or None if it was never applied."""
        record = self.cached(key)
        if record is None:
            found = await self._store.find_keys(self.scope, key.user_id, [key.key])
            record = found.get(key.key)
            if record is not None:
                self.remember(record)
        return record
