"""Issuing and verifying access tokens (RFC 9068 JWT profile), with joserfc."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from gateway.auth.keys import ALGORITHM, SigningKeys

LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or not meant for us."""


class TokenService:
    def __init__(self, keys: SigningKeys, issuer: str, audience: str, lifetime: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self._claims = JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            client_id={"essential": True},
            sub={"essential": True},
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token, or InvalidToken."""
        try:
            decoded = jwt.decode(token, self.keys.public, algorithms=[ALGORITHM])
            if decoded.header.get("typ") != "at+jwt":
                raise InvalidToken("typ")
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        iat = decoded.claims.get("iat")
        if isinstance(iat, int | float) and iat > time.time() + LEEWAY_SECONDS:
            raise InvalidToken("iat")
        return decoded.claims
