"""Who takes part in an auction: companies (the unit of visibility), their users and roles."""

from __future__ import annotations

from typing import Literal

import msgspec

Role = Literal["buyer", "supplier", "admin", "observer"]
ROLES: tuple[Role, ...] = ("buyer", "supplier", "admin", "observer")


class Party(msgspec.Struct, frozen=True):
    """A company as an auction records it: id and name are carried in the auction's events, so
    replay never depends on the accounts table."""

    id: str
    name: str


class Caller(msgspec.Struct, frozen=True):
    """Who sends a command: the user, their company and its role, and the admin acting on their
    behalf if any (an admin acting as a user is checked as that user)."""

    user_id: str
    company_id: str
    role: Role
    admin_id: str | None = None


class By(msgspec.Struct, frozen=True):
    """The acting user recorded in every event (``None`` in an event means the clock acted)."""

    user_id: str
    company_id: str
    admin_id: str | None = None

    @classmethod
    def of(cls, caller: Caller) -> By:
        return cls(caller.user_id, caller.company_id, caller.admin_id)
