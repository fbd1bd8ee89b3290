"""Accounts in SQLite: plain synchronous functions that `SqliteEventStore` runs on a connection's
thread. Writes go through the writer connection, so they queue with event batches and never
contend with them for the write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from auctionactors.store.base import Company, NewUser, Principal, Recipient, Role, check_limit
from auctionactors.store.credentials import (
    check_email,
    check_new_user,
    new_company_id,
    new_token,
    new_user_id,
    role_clash,
    token_hash,
)

T = TypeVar("T")

SELECT_PRINCIPAL = """
    SELECT u.id, u.name, c.id, c.name, c.role
    FROM tokens t JOIN users u ON u.id = t.user_id JOIN companies c ON c.id = u.company_id
    WHERE t.hash = ? AND t.revoked = 0
"""


def add_user(
    conn: sqlite3.Connection, company_name: str, role: Role, user_name: str, email: str | None
) -> NewUser:
    """Create the user (and its company if new) and a token, in one transaction."""
    role = check_new_user(company_name, role, user_name)
    email = check_email(email)
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT id, role FROM companies WHERE name = ?", (company_name,)
        ).fetchone()
        if row is None:
            company_id = new_company_id()
            conn.execute(
                "INSERT INTO companies (id, name, role) VALUES (?, ?, ?)",
                (company_id, company_name, role),
            )
        elif row[1] != role:
            raise role_clash(company_name, row[1], role)
        else:
            company_id = row[0]
        user_id = new_user_id()
        conn.execute(
            "INSERT INTO users (id, company_id, name, email) VALUES (?, ?, ?, ?)",
            (user_id, company_id, user_name, email),
        )
        token = new_token()
        conn.execute(
            "INSERT INTO tokens (hash, user_id, created_at, revoked) VALUES (?, ?, ?, 0)",
            (token_hash(token), user_id, datetime.now(UTC).isoformat()),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return NewUser(company_id, user_id, token)


def authenticate(conn: sqlite3.Connection, token: str) -> Principal | None:
    row = conn.execute(SELECT_PRINCIPAL, (token_hash(token),)).fetchone()
    return None if row is None else Principal(*row)


def user(conn: sqlite3.Connection, user_id: str) -> Principal | None:
    row = conn.execute(
        "SELECT u.id, u.name, c.id, c.name, c.role FROM users u"
        " JOIN companies c ON c.id = u.company_id WHERE u.id = ?",
        (user_id,),
    ).fetchone()
    return None if row is None else Principal(*row)


def recipients(conn: sqlite3.Connection, company_ids: list[str]) -> list[Recipient]:
    marks = ", ".join("?" * len(company_ids))
    sql = (
        f"SELECT id, name, company_id, email FROM users WHERE company_id IN ({marks})"
        " AND email IS NOT NULL ORDER BY company_id, id"
    )
    return [Recipient(*row) for row in conn.execute(sql, company_ids)]


def revoke_token(conn: sqlite3.Connection, token: str) -> bool:
    cursor = conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE hash = ? AND revoked = 0", (token_hash(token),)
    )
    return cursor.rowcount == 1


def company(conn: sqlite3.Connection, company_id: str) -> Company | None:
    row = conn.execute(
        "SELECT id, name, role FROM companies WHERE id = ?", (company_id,)
    ).fetchone()
    return None if row is None else Company(*row)


def companies(
    conn: sqlite3.Connection,
    roles: Collection[Role] | None,
    after: tuple[str, str] | None,
    limit: int | None,
) -> list[Company]:
    """See `Accounts.companies` (names are unique: the name index orders them)."""
    where: list[str] = []
    params: list[object] = []
    if roles is not None:
        where.append(f"role IN ({', '.join('?' * len(roles))})" if roles else "0")
        params.extend(roles)
    if after is not None:
        where.append("(name > ? OR (name = ? AND id > ?))")
        params.extend((after[0], after[0], after[1]))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    params.append(-1 if limit is None else limit)
    sql = f"SELECT id, name, role FROM companies{clause} ORDER BY name, id LIMIT ?"
    return [Company(*row) for row in conn.execute(sql, params)]


class AccountsStore:
    """`SqliteEventStore`'s `Accounts`: writes on the writer (queued with the appends' batches,
    never contending with them for the lock), reads on the reader."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def add_user(
        self, company_name: str, role: Role, user_name: str, email: str | None = None
    ) -> NewUser:
        """See `Accounts.add_user`; only the token's sha256 is stored."""
        fn = partial(add_user, company_name=company_name, role=role, email=email)
        return await self._write_now(partial(fn, user_name=user_name))

    async def recipients(self, company_ids: Collection[str]) -> list[Recipient]:
        """See `Accounts.recipients`."""
        wanted = sorted(set(company_ids))
        if not wanted:
            return []
        return await self._read(partial(recipients, company_ids=wanted))

    async def authenticate(self, token: str) -> Principal | None:
        return await self._read(partial(authenticate, token=token))

    async def user(self, user_id: str) -> Principal | None:
        return await self._read(partial(user, user_id=user_id))

    async def revoke_token(self, token: str) -> bool:
        """Revoke a token (e.g. a leaked one); True if it existed and was active."""
        return await self._write_now(partial(revoke_token, token=token))

    async def company(self, company_id: str) -> Company | None:
        return await self._read(partial(company, company_id=company_id))

    async def companies(
        self,
        *,
        roles: Collection[Role] | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Company]:
        check_limit(limit)
        roles = None if roles is None else sorted(set(roles))
        return await self._read(partial(companies, roles=roles, after=after, limit=limit))
