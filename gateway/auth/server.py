"""The OAuth2 token endpoint: authlib's framework-agnostic server core behind a Starlette adapter.

authlib ships server integrations for Flask and Django only; its core (``AuthorizationServer``,
``ClientCredentialsGrant``, the RFC 9068 JWT token generator) needs a request built from the
framework's request and a way to render responses. Clients authenticate with
``client_secret_basic`` or ``client_secret_post``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InsecureTransportError,
    InvalidClientError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth.keys import ALGORITHM, KeysUnavailable, RemoteKeys, SigningKeys
from gateway.auth.secrets import verify_secret
from gateway.habilitation.matrix import ADMINISTRATION, SCOPES, Matrix
from gateway.storage import Conflict, Session
from gateway.storage import auth as repository
from gateway.storage.tables import Client, Organisation, UsedAssertion

SECRET_METHODS = ("client_secret_basic", "client_secret_post")
PRIVATE_KEY_JWT = "private_key_jwt"
AUTH_METHODS = (*SECRET_METHODS, PRIVATE_KEY_JWT)
#: Signature algorithms accepted for client assertions (asymmetric only).
ASSERTION_ALGORITHMS = ("RS256", "ES256", "PS256")


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    """A stored client as authlib sees it."""

    def __init__(self, client: Client, organisation: Organisation, matrix: Matrix) -> None:
        self.client = client
        self.organisation = organisation
        overrides = tuple(tuple(o) for o in organisation.derogations)
        actor = matrix.actor(organisation.type_acteur, overrides)  # type: ignore[arg-type]
        #: The scopes this client may ask for: the rights of its actor kind and organisation,
        #: and the administration of its territories for operators.
        self.scopes = actor.scopes + ((ADMINISTRATION,) if client.operateur else ())

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Without a scope, every scope of the client; otherwise those asked that it may hold."""
        if not scope:
            return " ".join(self.scopes)
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client.secret_hash) and verify_secret(
            client_secret, self.client.secret_hash
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """A client registered with public keys authenticates with them only; the others
        with their secret."""
        if self.client.jwks is not None or self.client.jwks_uri:
            return method == PRIVATE_KEY_JWT
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: FormData) -> None:
        self._data = {key: value for key, value in form.items() if isinstance(value, str)}
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in form.multi_items():
            if isinstance(value, str):
                self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request, form: FormData) -> None:
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self.payload = _Payload(form)
        self._form = form
        self._args = request.query_params

    @property
    def args(self) -> Any:
        return self._args

    @property
    def form(self) -> Any:
        return self._form


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """``private_key_jwt`` (RFC 7523 §2.2): the client signs an assertion with its private key;
    its public keys are registered inline or published at its ``jwks_uri``. Each assertion is
    used once (its ``jti`` is kept until it expires, in the database)."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, issuer: str, sessions: Callable[[], Any], keys: RemoteKeys) -> None:
        super().__init__(validate_jti=True, leeway=30)
        issuer = issuer.rstrip("/")
        self._audiences = [f"{issuer}/oauth/token", issuer, issuer + "/"]
        self._sessions = sessions
        self._keys = keys

    def get_audiences(self) -> list[str]:
        return self._audiences

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """The claims of an assertion signed with one of :data:`ASSERTION_ALGORITHMS`."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as error:
            raise InvalidClientError(description=error.description) from error
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            return False
        try:
            with self._sessions() as session:
                repository.forget_expired_assertions(session, datetime.now(UTC))
                used = UsedAssertion(client_id=claims["sub"], jti=jti, expire_le=expires)
                repository.save(session, used)
        except Conflict:
            return False
        return True

    def resolve_client_public_key(self, client: RegisteredClient) -> KeySet:
        if client.client.jwks is not None:
            return KeySet.import_key_set(client.client.jwks)  # type: ignore[arg-type]
        try:
            return self._keys.fetch(str(client.client.jwks_uri))
        except KeysUnavailable as error:
            # OAuth2 error descriptions are ASCII (RFC 6749 §5.2).
            raise InvalidClientError(description="Client public keys unavailable.") from error


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    def __init__(
        self, keys: Callable[[], SigningKeys], issuer: str, audience: str, lifetime: int
    ) -> None:
        super().__init__(issuer=issuer, alg=ALGORITHM, expires_generator=lambda *_: lifetime)
        self._keys = keys
        self._audience = audience

    def get_jwks(self) -> Any:
        # A key set of one: joserfc then names the key (``kid``) in the token's header.
        return KeySet([self._keys().private])

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        return self._audience

    def get_extra_claims(
        self, client: RegisteredClient, grant_type: str, user: Any, scope: Any
    ) -> dict[str, Any]:
        return {"organisation": client.organisation.id}


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    """Issues access tokens to registered clients (client credentials grant)."""

    def __init__(
        self,
        sessions: Callable[[], Any],
        keys: Callable[[], SigningKeys],
        issuer: str,
        audience: str,
        lifetime: int,
        matrix: Matrix,
        writes: Callable[[], Any],
    ) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self._sessions = sessions
        self._matrix = matrix
        self.remote_keys = RemoteKeys()
        self.register_grant(_ClientCredentials)
        self.register_client_auth_method(
            PRIVATE_KEY_JWT, PrivateKeyJwt(issuer, writes, self.remote_keys)
        )
        self.register_token_generator("default", _TokenGenerator(keys, issuer, audience, lifetime))

    def query_client(self, client_id: str) -> RegisteredClient | None:
        with self._sessions() as session:
            return _active_client(session, client_id, self._matrix)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Access tokens are self-contained JWTs: nothing is stored."""

    def create_oauth2_request(self, request: tuple[Request, FormData]) -> _Request:
        return _Request(*request)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        headers = dict(headers)
        headers.setdefault("Cache-Control", "no-store")
        return Response(
            orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
        )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    async def token_response(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=20)
        try:
            response: Response = await run_in_threadpool(
                self.create_token_response, (request, form)
            )
        except InsecureTransportError:
            # Tokens are only issued over TLS (behind a proxy: its forwarded headers).
            return self.handle_response(
                400,
                {"error": "invalid_request", "error_description": "HTTPS required."},
                [],
            )
        return response


def _active_client(session: Session, client_id: str, matrix: Matrix) -> RegisteredClient | None:
    client, organisation = repository.client_and_organisation(session, client_id)
    if client is None or not client.actif or organisation is None or not organisation.actif:
        return None
    return RegisteredClient(client, organisation, matrix)
