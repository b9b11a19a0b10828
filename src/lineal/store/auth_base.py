"""The API token contract: the part of :class:`~lineal.store.base.MetadataStore` that keeps
``lineal server``'s API tokens.

A token is stored as its :class:`~lineal.entities.ApiToken` (who made it, role, project,
expiry, revocation) and the SHA-256 of its secret (``sha256:<hex>``, made by
:func:`lineal.tokens.hash_secret`); the secret itself never reaches a store. Every change is a
ledgered write, so the audit log shows who made and who revoked each token.

Every argument and answer is a plain type or an entity, so a remote implementation sends them
with :mod:`lineal.codec`. A server must not expose :meth:`AuthStore.api_token_by_hash` to
clients: it is the authenticator's lookup.
"""

from __future__ import annotations

import abc

from ..entities import ApiToken

__all__ = ["AuthStore"]


class AuthStore(abc.ABC):
    """API tokens: create, look up by the hash of the secret, list, revoke."""

    @abc.abstractmethod
    def create_api_token(self, token: ApiToken, token_hash: str, actor: str) -> ApiToken:
        """Record ``token`` with the hash of its secret and return it as recorded:
        ``created_by`` is ``actor`` and ``created_at`` the time of the write, whatever
        ``token`` says. AlreadyExists if the id or the hash is already recorded;
        InvalidArgument for a hash not of the form ``sha256:<64 hex>``, a bad role, project or
        name, an expiry not in the future, or a token marked revoked."""

    @abc.abstractmethod
    def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The token whose secret hashes to ``token_hash`` (revoked and expired ones too: the
        caller says why it refuses them), or None."""

    @abc.abstractmethod
    def get_api_token(self, token_id: str) -> ApiToken:
        """The token with id ``token_id``; NotFound otherwise."""

    @abc.abstractmethod
    def list_api_tokens(self, project: str | None = None) -> list[ApiToken]:
        """Every token, newest first, revoked and expired ones included; with ``project``, only
        the tokens scoped to that project (not the ones valid in every project)."""

    @abc.abstractmethod
    def revoke_api_token(self, token_id: str, actor: str) -> ApiToken:
        """Revoke the token (from now on it authenticates nobody) and return it. NotFound for
        an unknown id; a token already revoked is returned as it is, its first revocation
        kept."""
