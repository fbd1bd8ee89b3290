"""Webhooks for integrators: every event, as an admin sees it, POSTed as JSON to each hook
(`WebhookPlanner`, `WebhookSender`; aiohttp: the only module that imports it).

The body is ``{"delivery_id", "auction_id", "position", "event": {seq, type, at, by, data}}``.
Headers: ``X-Auctionactors-Delivery`` (the delivery id, stable across retries and restarts:
derived from (auction, seq, hook)) and ``X-Auctionactors-Signature: sha256=<hex>``, the
HMAC-SHA256 of the body under the hook's secret, so a receiver can check where it came from and
that it is whole. A 2xx answer accepts a delivery; any other answer, a timeout or a network
error is a failure, retried with backoff and parked after the reactor's attempts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import aiohttp
import msgspec

from auctionactors.domain.present import event_entry
from auctionactors.runtime.effects import DeliveryFailed, Effect, Plan
from auctionactors.store.base import Reminder, StoredEvent
from auctionactors.store.codec import decode_event

DELIVERY_HEADER = "X-Auctionactors-Delivery"
SIGNATURE_HEADER = "X-Auctionactors-Signature"


def hook_tag(url: str) -> str:
    """A short stable name of a hook in its delivery ids."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookPlanner:
    """One delivery per event to one hook (`runtime.effects.Planner`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tag = hook_tag(url)

    async def plan(self, events: Sequence[StoredEvent]) -> Plan:
        effects: list[Effect] = []
        for stored in events:
            delivery_id = f"{stored.stream_id}.{stored.seq}.{self.tag}"
            body = msgspec.json.encode(
                {
                    "delivery_id": delivery_id,
                    "auction_id": stored.stream_id,
                    "position": stored.position,
                    "event": event_entry(stored.seq, decode_event(stored)),
                }
            )
            effects.append(
                Effect(
                    effect_id=delivery_id,
                    position=stored.position,
                    recipient=self.url,
                    payload=body,
                )
            )
        return Plan(effects=effects)

    async def due(self, reminder: Reminder, now: int) -> list[Effect]:
        return []  # webhooks have no reminders


class WebhookSender:
    """POSTs over a pooled aiohttp session (keep-alive connections to the hook)."""

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, effect: Effect) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: effect.effect_id,
            SIGNATURE_HEADER: signature(self.secret, effect.payload),
        }
        try:
            async with self._session.post(
                effect.recipient, data=effect.payload, headers=headers
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryFailed(f"POST {effect.recipient}: {exc!r}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"POST {effect.recipient}: HTTP {status}")

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
