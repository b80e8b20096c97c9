"""The keys that sign access tokens: generated on first start, kept in the database."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from gateway.storage import Session
from gateway.storage import auth as repository
from gateway.storage.tables import SigningKey

ALGORITHM = "RS256"


class SigningKeys:
    """The newest active key (signing) and every active key, published (verifying).

    Rotation adds a key: it signs from then on, and the tokens signed by the previous one still
    verify until that key is retired (after the longest token lifetime).
    """

    def __init__(self, rows: list[SigningKey]) -> None:
        active = [row for row in rows if row.actif]
        if not active:
            raise ValueError("no active signing key")
        newest = max(active, key=lambda row: row.cree_le)
        self.kid = newest.kid
        self.private: RSAKey = RSAKey.import_key(newest.jwk)
        self.public = KeySet([RSAKey.import_key(_public(row.jwk)) for row in active])
        self.kids = frozenset(row.kid for row in active)

    def public_jwks(self) -> dict[str, Any]:
        return dict(self.public.as_dict(private=False))


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k in ("kty", "n", "e", "kid", "use", "alg")}


def load_or_create(session: Session) -> SigningKeys:
    """The signing keys; creates the first one when there is none.

    Run in a write transaction: on PostgreSQL the table is locked so that workers starting
    together agree on one key (SQLite write transactions are already exclusive).
    """
    repository.lock_keys(session)
    rows = repository.signing_keys(session)
    if not any(row.actif for row in rows):
        rows.append(_new_key(session))
    return SigningKeys(rows)


def load(session: Session) -> SigningKeys:
    return SigningKeys(repository.signing_keys(session))


def rotate(session: Session) -> SigningKey:
    """A new signing key; the others stay published until retired."""
    return _new_key(session)


def retire(session: Session, kid: str) -> None:
    """Stop publishing a key: the tokens it signed no longer verify. Never the newest key."""
    rows = [row for row in repository.signing_keys(session) if row.actif]
    target = next((row for row in rows if row.kid == kid), None)
    if target is None:
        raise ValueError(f"clé inconnue ou déjà retirée « {kid} »")
    if target is max(rows, key=lambda row: row.cree_le):
        raise ValueError("la clé la plus récente signe les jetons : faites d'abord une rotation")
    target.actif = False
    repository.save(session, target)


def _new_key(session: Session) -> SigningKey:
    kid = secrets.token_hex(8)
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
    row = SigningKey(kid=kid, jwk=key.as_dict(private=True), actif=True, cree_le=datetime.now(UTC))
    repository.save(session, row)
    return row


class KeysUnavailable(Exception):
    """Public keys published at a URL could not be fetched or read."""


class RemoteKeys:
    """Public keys published at a URL (a client's ``jwks_uri``, an identity provider's): fetched
    with one long-lived HTTP client, kept for ``ttl`` seconds."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._client = httpx.Client(timeout=5.0, follow_redirects=False)
        self._cache: dict[str, tuple[float, KeySet]] = {}

    def fetch(self, uri: str, *, fresh: bool = False) -> KeySet:
        """The key set at ``uri``; with ``fresh``, read again unless read within a second."""
        cached = self._cache.get(uri)
        if cached is not None:
            age = time.monotonic() - cached[0]
            if age < (1.0 if fresh else self.ttl):
                return cached[1]
        try:
            response = self._client.get(uri)
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, TypeError, KeyError, JoseError) as error:
            raise KeysUnavailable(uri) from error
        self._cache[uri] = (time.monotonic(), keys)
        return keys

    def close(self) -> None:
        self._client.close()
