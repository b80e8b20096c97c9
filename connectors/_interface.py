"""The connector interface: what a connector declares, its capabilities, and what it returns.

A connector is a class deriving from :class:`Connector`, registered under the entry point group
``carnet.connectors``. It declares a slug, a version, a settings model (pydantic-settings,
secrets as ``SecretStr``, its own environment prefix), the actor kind whose habilitation applies
to what it writes, and implements one or more capabilities:

- :class:`Pull`: fetch what a partner system knows about one person and return a referential
  contribution (the gateway submits it through the normal validation and merge path);
- :class:`Ingest`: read a file or stream and yield referential payloads with per-record outcomes;
- :class:`Deliver`: push a change event to a partner system.

Connectors never import the gateway: they see the referential and this interface only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, BinaryIO, ClassVar, Protocol, Self, runtime_checkable

from pydantic_settings import BaseSettings

from referential import OutgoingBody, Violation


class Capability(StrEnum):
    PULL = "pull"
    INGEST = "ingest"
    DELIVER = "deliver"


class CircuitState(StrEnum):
    CLOSED = "ferme"
    OPEN = "ouvert"
    HALF_OPEN = "semi_ouvert"


@dataclass(frozen=True, slots=True)
class Agent:
    """On whose behalf a pull is made: the professional who asked, or ``BATCH`` for a run."""

    identifiant: str
    nom: str
    prenom: str


BATCH = Agent("BATCH", "BATCH", "BATCH")


@dataclass(frozen=True, slots=True)
class PullRequest:
    """One person to pull, as the notebook knows them (the NIR's 13 characters, the partner
    identifiers by type: ``france_travail``, ``caf_msa``, ``si_departement``)."""

    carnet_id: str
    territoire: str
    nir: str | None
    date_naissance: date | None
    agent: Agent = BATCH
    identifiants: Mapping[str, str] = field(default_factory=dict)


class PullOutcome(StrEnum):
    #: A dossier was read; ``contribution`` holds what it says (maybe nothing applicable).
    DOSSIER = "dossier"
    #: The person is known upstream but holds no dossier (HTTP 204, empty body, ``{}``).
    NO_DOSSIER = "aucun_dossier"
    NOT_FOUND = "introuvable"
    AMBIGUOUS = "ambigu"
    UNCERTIFIED = "identite_non_certifiee"
    #: The notebook lacks what the upstream search needs (a NIR, a birth date): no call.
    INCOMPLETE = "identite_incomplete"


@dataclass(frozen=True, slots=True)
class Notice:
    """A per-item warning of a pull: where in the upstream payload, a stable code, French text.

    Codes and pointers only: never a label or a value of the person.
    """

    pointer: str
    code: str
    message: str

    def to_wire(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": self.code, "message": self.message}


@dataclass(slots=True)
class PullResult:
    outcome: PullOutcome
    #: A referential contribution (JSON-ready: ``observe_le``, ``diagnostic``, ``axes``…).
    contribution: dict[str, Any] | None = None
    #: SHA-256 of the canonical JSON of the upstream dossier (equal dossiers, equal hashes).
    fingerprint: str | None = None
    notices: list[Notice] = field(default_factory=list)
    #: Upstream codes without a crosswalk entry (reported, never guessed).
    unknown_codes: int = 0
    #: Upstream fields the wire models do not know (tolerated).
    unknown_fields: int = 0


@dataclass(frozen=True, slots=True)
class IngestRecord:
    """One record of an ingested file: its position, its payload or why it was refused."""

    position: int
    kind: str
    payload: Mapping[str, Any] | None
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    carnet_id: str
    version: int
    sections: tuple[str, ...]
    body: Mapping[str, Any]


@runtime_checkable
class Pull(Protocol):
    async def pull(self, request: PullRequest) -> PullResult: ...


@runtime_checkable
class Ingest(Protocol):
    def ingest(self, stream: BinaryIO) -> Iterator[IngestRecord]: ...


@runtime_checkable
class Deliver(Protocol):
    async def deliver(self, event: ChangeEvent) -> None: ...


_CAPABILITIES: tuple[tuple[Capability, type], ...] = (
    (Capability.PULL, Pull),
    (Capability.INGEST, Ingest),
    (Capability.DELIVER, Deliver),
)


class Connector:
    """Base of every connector. Subclasses set the class attributes and implement capabilities."""

    slug: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    settings_model: ClassVar[type[BaseSettings]]
    #: The actor kind of the habilitation matrix whose rights apply to what the connector writes.
    type_acteur: ClassVar[str]
    #: The purpose its writes state (a purpose the matrix opens to ``type_acteur``).
    finalite: ClassVar[str] = "partage"
    #: The bodies it sends out, published with the gateway's (``carnet schemas export``) and
    #: checked before they are sent.
    published: ClassVar[tuple[OutgoingBody, ...]] = ()

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings

    @classmethod
    def from_environment(cls) -> Self:
        """The connector with its settings read from the environment (its own prefix)."""
        return cls(cls.settings_model())

    def capabilities(self) -> tuple[Capability, ...]:
        return tuple(name for name, protocol in _CAPABILITIES if isinstance(self, protocol))

    def circuit(self) -> CircuitState:
        """The state of the connector's circuit breaker (closed when it has none)."""
        return CircuitState.CLOSED

    async def aclose(self) -> None:
        """Release the connector's resources (its HTTP client)."""


class ConnectorError(Exception):
    """An upstream failure, typed: a stable code, whether retrying later may help.

    Messages are French and carry no personal data.
    """

    code: ClassVar[str] = "erreur_connecteur"
    retryable: ClassVar[bool] = False
    #: Whatever the person, no call can succeed until an operator acts (credentials, scopes,
    #: subscription): a batch stops at once.
    needs_operator: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class UpstreamUnavailable(ConnectorError):
    """5xx, 429 beyond the retry budget, transport failure: retry later."""

    code = "amont_indisponible"
    retryable = True


class UpstreamTimeout(UpstreamUnavailable):
    code = "amont_delai_depasse"


class CircuitOpen(UpstreamUnavailable):
    code = "circuit_ouvert"


class UpstreamMalformed(ConnectorError):
    """A body that is not what the upstream API documents (truncated, wrong shape, wrong type)."""

    code = "reponse_amont_invalide"


class UpstreamConfiguration(ConnectorError):
    """Wrong credentials or scopes, missing headers: an operator must act; no retry."""

    code = "configuration_amont"
    needs_operator = True


class UpstreamRefused(ConnectorError):
    """The upstream system refuses the access (subscription or habilitation): no retry."""

    code = "acces_amont_refuse"
    needs_operator = True


class UpstreamRejected(ConnectorError):
    """The upstream system rejects the request as invalid: no retry."""

    code = "requete_amont_rejetee"


class NonConformingBody(ConnectorError):
    """The body the connector was about to send is not an instance of its published schema: it
    is not sent, and retrying cannot cure it (the event is a dead letter, redeliverable once
    fixed). ``violations`` locate the departures, by pointer and code."""

    code = "corps_non_conforme"

    def __init__(self, message: str, violations: list[Violation]) -> None:
        super().__init__(message)
        self.violations = tuple(violations)
