"""API tokens in the SQL store (:class:`~lineal.store.auth_base.AuthStore`): one ledgered
write to make a token, one to revoke it; the lookup by hash is one indexed read."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from ...auth.roles import Role, parse_role
from ...entities import ApiToken, datetime_to_us, us_to_datetime
from ...errors import AlreadyExists, InvalidArgument, NotFound
from ...refs import validate_name
from ..auth_base import AuthStore
from . import tables_auth as ta
from .database import Database

_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_NAME_MAX = ta.api_tokens.c.name.type.length  # type: ignore[attr-defined]


class TokensMixin(AuthStore):
    db: Database

    def create_api_token(self, token: ApiToken, token_hash: str, actor: str) -> ApiToken:
        """Record the token; ``created_by`` and ``created_at`` are the writer and the time of
        the write, whatever ``token`` says (an identity is never taken from the caller)."""
        _check_new(token, token_hash)
        tk = ta.api_tokens
        with self.db.write(actor) as tx:
            clash = tx.conn.execute(
                sa.select(tk.c.id).where(sa.or_(tk.c.id == token.id, tk.c.token_hash == token_hash))
            ).first()
            if clash is not None:
                raise AlreadyExists(f"an API token with id {token.id} or that secret exists")
            expires = None if token.expires_at is None else datetime_to_us(token.expires_at)
            if expires is not None and expires <= tx.ts:
                raise InvalidArgument("the token would expire before it is made",
                                      hint="give an expiry in the future, e.g. 30d")
            tx.insert(tk, [{
                "id": token.id, "name": token.name, "token_hash": token_hash,
                "role": str(token.role), "project": token.project, "created_at": tx.ts,
                "created_by": actor, "expires_at": expires, "revoked_at": None,
                "revoked_by": None,
            }], "token.create", token.id)
        return self.get_api_token(token.id)

    def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        if not isinstance(token_hash, str) or not _HASH.fullmatch(token_hash):
            return None
        found = self._tokens(ta.api_tokens.c.token_hash == token_hash)
        return found[0] if found else None

    def get_api_token(self, token_id: str) -> ApiToken:
        found = self._tokens(ta.api_tokens.c.id == token_id)
        if not found:
            raise NotFound(f"no API token with id {token_id!r}", hint="see `lineal token list`")
        return found[0]

    def list_api_tokens(self, project: str | None = None) -> list[ApiToken]:
        condition = sa.true() if project is None else ta.api_tokens.c.project == project
        return self._tokens(condition)

    def revoke_api_token(self, token_id: str, actor: str) -> ApiToken:
        tk = ta.api_tokens
        with self.db.write(actor) as tx:
            row = tx.conn.execute(
                sa.select(tk.c.revoked_at).where(tk.c.id == token_id)
            ).first()
            if row is None:
                raise NotFound(f"no API token with id {token_id!r}", hint="see `lineal token list`")
            if row.revoked_at is None:
                tx.update(tk, {"id": token_id}, {"revoked_at": tx.ts, "revoked_by": actor},
                          "token.revoke")
        return self.get_api_token(token_id)

    def _tokens(self, condition: sa.ColumnElement[bool]) -> list[ApiToken]:
        tk = ta.api_tokens
        columns = [c for c in tk.c if c.name not in ("token_hash", "ledger_seq")]
        query = sa.select(*columns).where(condition).order_by(tk.c.created_at.desc(), tk.c.id.desc())
        with self.db.read() as conn:
            return [_token(row._mapping) for row in conn.execute(query)]


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row["id"], name=row["name"], role=Role(row["role"]), project=row["project"],
        created_at=us_to_datetime(row["created_at"]),  # type: ignore[arg-type]
        created_by=row["created_by"], expires_at=us_to_datetime(row["expires_at"]),
        revoked_at=us_to_datetime(row["revoked_at"]), revoked_by=row["revoked_by"],
    )


def _check_new(token: ApiToken, token_hash: str) -> None:
    """What the store refuses whoever sends it (the SDK checks the same, with nicer hints)."""
    if not isinstance(token_hash, str) or not _HASH.fullmatch(token_hash):
        raise InvalidArgument("an API token's hash must be 'sha256:' and 64 hex digits")
    if not isinstance(token.id, str) or not 1 <= len(token.id) <= ta.api_tokens.c.id.type.length:  # type: ignore[attr-defined]
        raise InvalidArgument(f"invalid API token id {token.id!r}")
    if not isinstance(token.name, str) or len(token.name) > _NAME_MAX or not token.name.isprintable():
        raise InvalidArgument(f"invalid API token name {token.name!r}",
                              hint=f"use at most {_NAME_MAX} printable characters")
    parse_role(token.role)
    if token.project is not None:
        validate_name(token.project, "project")
    if token.revoked_at is not None or token.revoked_by is not None:
        raise InvalidArgument("a new API token cannot be revoked already")
