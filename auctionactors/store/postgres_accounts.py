"""Accounts in PostgreSQL: companies, users and their tokens (stored hashed; see `credentials`).
The same rules as `sqlite_accounts`; a mixin of `PostgresEventStore`, which gives it a pool.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager

import asyncpg

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
from auctionactors.store.postgres_migrations import Conn

SELECT_PRINCIPAL = """
    SELECT u.id, u.name, c.id, c.name, c.role
    FROM tokens t JOIN users u ON u.id = t.user_id JOIN companies c ON c.id = u.company_id
    WHERE t.hash = $1 AND NOT t.revoked
"""
SELECT_USER = """SELECT u.id, u.name, c.id, c.name, c.role FROM users u
    JOIN companies c ON c.id = u.company_id WHERE u.id = $1"""
SELECT_RECIPIENTS = """SELECT id, name, company_id, email FROM users
    WHERE company_id = ANY($1::text[]) AND email IS NOT NULL ORDER BY company_id, id"""
# A company made at the same time by another node is found, not made twice (names are unique).
INSERT_COMPANY = """INSERT INTO companies (id, name, role) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO NOTHING"""


class AccountsStore:
    """`PostgresEventStore`'s `Accounts`."""

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        raise NotImplementedError

    async def _in_transaction(self, sql: str, *args: object) -> str:
        raise NotImplementedError

    def _writable_connection(self) -> AbstractAsyncContextManager[Conn]:
        raise NotImplementedError

    async def add_user(
        self, company_name: str, role: Role, user_name: str, email: str | None = None
    ) -> NewUser:
        """See `Accounts.add_user`: one transaction; only the token's sha256 is stored."""
        role = check_new_user(company_name, role, user_name)
        email = check_email(email)
        token = new_token()
        async with self._writable_connection() as conn, conn.transaction():
            await conn.execute(INSERT_COMPANY, new_company_id(), company_name, role)
            row = await conn.fetchrow(
                "SELECT id, role FROM companies WHERE name = $1", company_name
            )
            assert row is not None
            if row[1] != role:
                raise role_clash(company_name, row[1], role)
            user_id = new_user_id()
            await conn.execute(
                "INSERT INTO users (id, company_id, name, email) VALUES ($1, $2, $3, $4)",
                user_id,
                row[0],
                user_name,
                email,
            )
            await conn.execute(
                "INSERT INTO tokens (hash, user_id) VALUES ($1, $2)", token_hash(token), user_id
            )
        return NewUser(row[0], user_id, token)

    async def recipients(self, company_ids: Collection[str]) -> list[Recipient]:
        """See `Accounts.recipients`."""
        wanted = sorted(set(company_ids))
        if not wanted:
            return []
        return [Recipient(*row) for row in await self._fetch(SELECT_RECIPIENTS, wanted)]

    async def authenticate(self, token: str) -> Principal | None:
        rows = await self._fetch(SELECT_PRINCIPAL, token_hash(token))
        return Principal(*rows[0]) if rows else None

    async def user(self, user_id: str) -> Principal | None:
        rows = await self._fetch(SELECT_USER, user_id)
        return Principal(*rows[0]) if rows else None

    async def revoke_token(self, token: str) -> bool:
        """Revoke a token (e.g. a leaked one); True if it existed and was active."""
        status = await self._in_transaction(
            "UPDATE tokens SET revoked = true WHERE hash = $1 AND NOT revoked", token_hash(token)
        )
        return status == "UPDATE 1"

    async def company(self, company_id: str) -> Company | None:
        rows = await self._fetch("SELECT id, name, role FROM companies WHERE id = $1", company_id)
        return Company(*rows[0]) if rows else None

    async def companies(
        self,
        *,
        roles: Collection[Role] | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Company]:
        """See `Accounts.companies` (names are unique: the name index orders them)."""
        check_limit(limit)
        where: list[str] = []
        params: list[object] = []
        if roles is not None:
            params.append(sorted(set(roles)))
            where.append(f"role = ANY(${len(params)}::text[])")
        if after is not None:
            params += [after[0], after[1]]
            where.append(f"(name, id) > (${len(params) - 1}, ${len(params)})")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params.append(limit)
        sql = f"SELECT id, name, role FROM companies{clause} ORDER BY name, id LIMIT ${len(params)}"
        return [Company(*row) for row in await self._fetch(sql, *params)]
