"""The keys that sign access tokens: generated on first start, kept in the database."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import text
from sqlmodel import Session, select

from gateway.storage.tables import SigningKey

ALGORITHM = "RS256"


class SigningKeys:
    """The active private key (signing) and every published public key (verifying)."""

    def __init__(self, rows: list[SigningKey]) -> None:
        active = [row for row in rows if row.actif]
        if not active:
            raise ValueError("no active signing key")
        newest = max(active, key=lambda row: row.cree_le)
        self.kid = newest.kid
        self.private: RSAKey = RSAKey.import_key(newest.jwk)
        self.public = KeySet([RSAKey.import_key(_public(row.jwk)) for row in rows])

    def public_jwks(self) -> dict[str, Any]:
        return dict(self.public.as_dict(private=False))


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k in ("kty", "n", "e", "kid", "use", "alg")}


def load_or_create(session: Session) -> SigningKeys:
    """The signing keys; creates the first one when there is none.

    Run in a write transaction: on PostgreSQL the table is locked so that workers starting
    together agree on one key (SQLite write transactions are already exclusive).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE cles_signature IN EXCLUSIVE MODE"))
    rows = list(session.exec(select(SigningKey)))
    if not any(row.actif for row in rows):
        kid = secrets.token_hex(8)
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
        row = SigningKey(
            kid=kid, jwk=key.as_dict(private=True), actif=True, cree_le=datetime.now(UTC)
        )
        session.add(row)
        session.flush()
        rows.append(row)
    return SigningKeys(rows)
