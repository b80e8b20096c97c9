"""Issuing and verifying access tokens (RFC 9068 JWT profile), with joserfc."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from gateway.auth.keys import ALGORITHM, KeysUnavailable, RemoteKeys, SigningKeys

LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096


#: The claim under which an external identity provider's ``sub`` is handed to the routes: the
#: agent registered with that ``sub`` acts (unless the call names one in its Agent header).
AGENT_SUB = "carnet_agent_sub"


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or not meant for us."""


#: How long the signing keys are trusted before they are read again (rotations reach every
#: worker within this time).
KEYS_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class ExternalIssuer:
    """An identity provider whose access tokens are accepted too: verified with its published
    keys, and mapped to a client registered in the gateway (which gives the organisation, its
    actor kind and territories, and is checked at every request like any other)."""

    issuer: str
    jwks_uri: str
    audience: str
    client_claim: str = "azp"
    scope_claim: str = "scope"
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")


class TokenService:
    def __init__(
        self,
        keys: SigningKeys,
        issuer: str,
        audience: str,
        lifetime: int,
        loader: Callable[[], SigningKeys] | None = None,
        external: ExternalIssuer | None = None,
        remote: RemoteKeys | None = None,
    ) -> None:
        self.external = external
        self._remote = remote or (RemoteKeys() if external else None)
        self._keys = keys
        self._loader = loader
        self._loaded_at = time.monotonic()
        self._unknown_kid_at = 0.0
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

    @property
    def keys(self) -> SigningKeys:
        """The signing keys, read again from the database once they are a minute old."""
        if self._loader is not None and time.monotonic() - self._loaded_at > KEYS_REFRESH_SECONDS:
            self.refresh()
        return self._keys

    def refresh(self) -> None:
        """Read the keys again (a rotation, a retirement, by any worker or the CLI)."""
        if self._loader is not None:
            self._keys = self._loader()
            self._loaded_at = time.monotonic()
            self._verified.clear()

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token, or InvalidToken.

        A token whose signature and claims were verified is remembered until it expires, so
        that its signature is checked once, not on every request (the client's state is
        still checked on every request by the caller).
        """
        cached = self._verified.get(token)
        if cached is not None and cached["exp"] > time.time() - LEEWAY_SECONDS:
            return cached
        try:
            claims = self._verify(token)
        except InvalidToken as error:
            # A token signed by a key this worker does not know yet (rotated elsewhere): read
            # the keys once more, at most once a second.
            if str(error) != "kid" or time.monotonic() - self._unknown_kid_at < 1:
                raise
            self._unknown_kid_at = time.monotonic()
            self.refresh()
            claims = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()

    def _verify(self, token: str) -> dict[str, Any]:
        if self.external is not None and self._issuer_of(token) == self.external.issuer:
            return self._verify_external(token, self.external)
        return self._verify_own(token)

    @staticmethod
    def _issuer_of(token: str) -> Any:
        """The ``iss`` a token claims, before anything is verified (to pick the keys)."""
        try:
            payload = jws.extract_compact(token.encode()).payload
            return orjson.loads(payload).get("iss")
        except (JoseError, ValueError, TypeError, AttributeError):
            return None

    def _verify_external(self, token: str, external: ExternalIssuer) -> dict[str, Any]:
        assert self._remote is not None
        registry = JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": external.issuer},
            aud={"essential": True, "value": external.audience},
            exp={"essential": True},
        )
        try:
            keys = self._remote.fetch(external.jwks_uri)
            header = jws.extract_compact(token.encode()).headers()
            if header.get("kid") and not any(k.kid == header["kid"] for k in keys):
                keys = self._remote.fetch(external.jwks_uri, fresh=True)  # a rotation
            decoded = jwt.decode(token, keys, algorithms=list(external.algorithms))
            registry.validate(decoded.claims)
        except (JoseError, KeysUnavailable, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        client_id = decoded.claims.get(external.client_claim)
        if not isinstance(client_id, str) or not client_id:
            raise InvalidToken("client")
        scope = decoded.claims.get(external.scope_claim) or ""
        if isinstance(scope, list):
            scope = " ".join(str(s) for s in scope)
        claims = {**decoded.claims, "client_id": client_id, "scope": str(scope)}
        claims.pop(AGENT_SUB, None)  # never taken from the token as such
        # The person at the keyboard, as the identity provider names it (see AGENT_SUB).
        sub = decoded.claims.get("sub")
        if isinstance(sub, str) and 0 < len(sub) <= 255:
            claims[AGENT_SUB] = sub
        return claims

    def _verify_own(self, token: str) -> dict[str, Any]:
        keys = self.keys
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        if header.get("kid") not in keys.kids:
            raise InvalidToken("kid")
        try:
            decoded = jwt.decode(token, keys.public, algorithms=[ALGORITHM])
            if decoded.header.get("typ") != "at+jwt":
                raise InvalidToken("typ")
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        iat = decoded.claims.get("iat")
        if isinstance(iat, int | float) and iat > time.time() + LEEWAY_SECONDS:
            raise InvalidToken("iat")
        return decoded.claims
