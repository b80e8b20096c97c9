"""Issuing and verifying access tokens (RFC 9068 JWT profile), with joserfc."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from gateway.auth.keys import ALGORITHM, SigningKeys

LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or not meant for us."""


class TokenService:
    def __init__(self, keys: SigningKeys, issuer: str, audience: str, lifetime: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self._verified: dict[str, dict[str, Any]] = {}
        self._claims = JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            client_id={"essential": True},
            sub={"essential": True},
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token, or InvalidToken.

        A token whose signature and claims were verified is remembered until it expires, so
        that its signature is checked once, not on every request (the client's state is
        still checked on every request by the caller).
        """
        cached = self._verified.get(token)
        if cached is not None and cached["exp"] > time.time() - LEEWAY_SECONDS:
            return cached
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
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
