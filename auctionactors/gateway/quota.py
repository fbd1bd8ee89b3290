"""The creation quota: how many auctions one buyer company may create per hour, and how many
of its auctions may be unfinished (drafts included) at once.

Creating an auction is the one request that makes the system bigger for good (an actor, a
stream, a row in every admin's list), so one careless or hostile buyer could otherwise bury
everyone's page under drafts. The quota counts creations per buyer company in a sliding hour of
the supervisor's clock. A buyer acting itself, or an admin acting as a buyer's user
(``as_user``), counts toward that buyer; an admin acting as itself is not limited. Counts live
in memory: a restart forgets them (the quota bounds a flood, it is not an accounting).
"""

from __future__ import annotations

import contextlib
from collections import deque

from auctionactors.domain.timestamps import SECOND, Instant
from auctionactors.errors import DomainError

HOUR = 3600 * SECOND


class CreationQuota:
    """At most ``per_hour`` creations per company in any hour, and ``max_open`` of its auctions
    not final (None: no such limit)."""

    def __init__(self, per_hour: int | None, max_open: int | None = None) -> None:
        self.per_hour = per_hour
        self.max_open = max_open
        self._recent: dict[str, deque[Instant]] = {}

    def take(self, company_id: str, now: Instant, open_auctions: int = 0) -> Instant:
        """Count one creation now, the company having ``open_auctions`` not final; `DomainError`
        ``rate_limited`` (saying the quota and when to retry) when it has used up either quota.
        Returns the stamp to `give_back` if the creation is refused after all."""
        if self.max_open is not None and open_auctions >= self.max_open:
            raise DomainError(
                "rate_limited",
                f"quota reached: {self.max_open} auctions not yet final per company; "
                "retry when some have closed, or cancel drafts",
            )
        if self.per_hour is None:
            return now
        recent = self._recent.setdefault(company_id, deque())
        while recent and recent[0] <= now - HOUR:
            recent.popleft()
        if len(recent) >= self.per_hour:
            wait_s = max(1, -(-(recent[0] + HOUR - now) // SECOND))
            raise DomainError(
                "rate_limited",
                f"quota reached: {self.per_hour} auctions per company per hour; "
                f"retry in {wait_s} s",
            )
        recent.append(now)
        return now

    def give_back(self, company_id: str, stamp: Instant) -> None:
        """The creation counted at ``stamp`` did not happen: it does not count."""
        recent = self._recent.get(company_id)
        if recent is None:
            return
        with contextlib.suppress(ValueError):
            recent.remove(stamp)
        if not recent:
            del self._recent[company_id]
