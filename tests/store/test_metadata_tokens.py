"""API tokens through the metadata contract (``AuthStore``), on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lineal.auth import Role
from lineal.entities import ApiToken, new_id
from lineal.errors import AlreadyExists, InvalidArgument, NotFound
from lineal.store import Store
from lineal.tokens import hash_secret, new_secret


def _token(**changes: object) -> ApiToken:
    fields: dict[str, object] = {
        "id": new_id(), "name": "ci", "role": Role.WRITER, "project": "churn",
        "created_at": datetime.now(UTC), "created_by": "someone-else",
        "expires_at": datetime.now(UTC) + timedelta(days=30),
    }
    fields.update(changes)
    return ApiToken(**fields)  # type: ignore[arg-type]


@pytest.mark.server_side
@pytest.mark.principals
def test_a_token_is_recorded_with_its_writer_and_found_by_its_hash(backend_store: Store) -> None:
    meta = backend_store.metadata
    secret = new_secret()
    made = meta.create_api_token(_token(), hash_secret(secret), "alice")
    assert made.created_by == "alice", "the writer is the actor, not what the entity says"
    assert made.role is Role.WRITER and made.project == "churn" and made.status == "active"
    assert meta.get_api_token(made.id) == made
    assert meta.api_token_by_hash(hash_secret(secret)) == made
    assert meta.api_token_by_hash(hash_secret(new_secret())) is None
    assert meta.api_token_by_hash("not a hash") is None
    entries = meta.ledger_entries(entity_id=made.id)
    assert [(e.action, e.actor) for e in entries] == [("token.create", "alice")]


def test_listing_is_newest_first_and_filters_by_project(backend_store: Store) -> None:
    meta = backend_store.metadata
    first = meta.create_api_token(_token(project="churn"), hash_secret(new_secret()), "alice")
    every = meta.create_api_token(_token(project=None, role=Role.ADMIN, expires_at=None),
                                  hash_secret(new_secret()), "alice")
    other = meta.create_api_token(_token(project="fraud", role=Role.READER),
                                  hash_secret(new_secret()), "alice")
    assert [t.id for t in meta.list_api_tokens()] == [other.id, every.id, first.id]
    assert [t.id for t in meta.list_api_tokens("churn")] == [first.id]
    assert meta.list_api_tokens("nothing-here") == []
    assert every.project is None and every.expires_at is None and every.scope == "*"


@pytest.mark.principals
def test_revoking_records_who_and_when_once(backend_store: Store) -> None:
    meta = backend_store.metadata
    made = meta.create_api_token(_token(), hash_secret(new_secret()), "alice")
    revoked = meta.revoke_api_token(made.id, "bob")
    assert revoked.revoked_by == "bob" and revoked.revoked_at is not None
    assert revoked.status == "revoked"
    again = meta.revoke_api_token(made.id, "carol")
    assert again == revoked, "the first revocation is kept"
    actions = [(e.action, e.actor) for e in meta.ledger_entries(entity_id=made.id)]
    assert actions == [("token.create", "alice"), ("token.revoke", "bob")]
    with pytest.raises(NotFound):
        meta.revoke_api_token("01NOSUCHTOKEN0000000000000", "bob")
    with pytest.raises(NotFound):
        meta.get_api_token("01NOSUCHTOKEN0000000000000")


def test_a_secret_or_an_id_is_recorded_once(backend_store: Store) -> None:
    meta = backend_store.metadata
    digest = hash_secret(new_secret())
    made = meta.create_api_token(_token(), digest, "alice")
    with pytest.raises(AlreadyExists):
        meta.create_api_token(_token(), digest, "alice")
    with pytest.raises(AlreadyExists):
        meta.create_api_token(_token(id=made.id), hash_secret(new_secret()), "alice")
    assert len(meta.list_api_tokens()) == 1


@pytest.mark.parametrize("bad", [
    {"hash": "plain-secret"},
    {"hash": "sha256:" + "g" * 64},
    {"role": "owner"},
    {"project": "no spaces allowed"},
    {"name": "x" * 129},
    {"name": "line\nbreak"},
    {"expires_at": datetime.now(UTC) - timedelta(seconds=1)},
    {"revoked_at": datetime.now(UTC)},
])
def test_what_the_store_refuses(backend_store: Store, bad: dict[str, object]) -> None:
    bad = dict(bad)  # the parameter is shared by the backends
    digest = str(bad.pop("hash", hash_secret(new_secret())))
    with pytest.raises(InvalidArgument):
        backend_store.metadata.create_api_token(_token(**bad), digest, "alice")
    assert backend_store.metadata.list_api_tokens() == []


@pytest.mark.sql
def test_only_the_hash_of_the_secret_is_stored(backend_store: Store) -> None:
    meta = backend_store.metadata
    secret = new_secret()
    made = meta.create_api_token(_token(), hash_secret(secret), "alice")
    with meta.db.read() as conn:  # type: ignore[attr-defined]
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM api_tokens")).mappings()]
    assert len(rows) == 1 and rows[0]["id"] == made.id
    assert rows[0]["token_hash"] == hash_secret(secret)
    stored = " ".join(str(v) for v in rows[0].values())
    assert secret not in stored and secret.removeprefix("lnl_") not in stored
    assert "token_hash" not in made.to_dict() and secret not in str(made.to_dict())


@pytest.mark.sql
def test_the_ledger_vouches_for_token_rows(backend_store: Store) -> None:
    meta = backend_store.metadata
    made = meta.create_api_token(_token(role=Role.READER), hash_secret(new_secret()), "alice")
    meta.revoke_api_token(made.id, "bob")
    assert meta.verify_ledger().ok
    other = meta.create_api_token(_token(role=Role.READER), hash_secret(new_secret()), "alice")
    with meta.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text("UPDATE api_tokens SET role = 'admin' WHERE id = :id"),
                     {"id": other.id})
    report = meta.verify_ledger()
    assert not report.ok
    assert any("api_tokens" in str(p) for p in report.problems)
