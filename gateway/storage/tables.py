"""The tables. The notebook is one JSON document plus the indexed columns its queries need."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

# BIGINT on PostgreSQL, but INTEGER on SQLite so that it aliases the rowid (autoincrement).
AutoIncrement = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores them without a zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UtcDateTime(), **kwargs))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: str = Field(primary_key=True, max_length=36)
    nom: str = Field(max_length=255)
    type_acteur: str = Field(max_length=40)
    territoires: list[str] = Field(sa_column=Column(JSON, nullable=False))
    siret: str | None = Field(default=None, max_length=14)
    #: A professional contact channel (service e-mail or phone), shown to the partners that
    #: discover a notebook the organisation follows.
    contact: str | None = Field(default=None, max_length=255)
    actif: bool = True
    cree_le: datetime = _ts(nullable=False)
    #: The active overrides of the habilitation matrix for this organisation, as
    #: ``[categorie, droit, effet]`` triples (their history, with who and why: ``derogations``).
    derogations: list[list[str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class Override(SQLModel, table=True):
    """A grant or a restriction of the matrix for one organisation, with who decided and why."""

    __tablename__ = "derogations"

    id: int | None = Field(default=None, sa_column=Column(AutoIncrement, primary_key=True))
    organisation_id: str = Field(foreign_key="organisations.id", index=True, max_length=36)
    categorie: str = Field(max_length=40)
    droit: str = Field(max_length=20)
    effet: str = Field(max_length=10, description="accorde ou retire")
    motif: str = Field(max_length=500)
    auteur: str = Field(max_length=200)
    garanties: str | None = Field(default=None, max_length=1000)
    actif: bool = True
    cree_le: datetime = _ts(nullable=False)
    leve_le: datetime | None = _ts(nullable=True)


class Client(SQLModel, table=True):
    __tablename__ = "clients"

    client_id: str = Field(primary_key=True, max_length=64)
    organisation_id: str = Field(foreign_key="organisations.id", index=True, max_length=36)
    nom: str = Field(max_length=255)
    secret_hash: str = Field(max_length=255)
    actif: bool = True
    #: An operator administers the organisations and clients of its organisation's territories.
    operateur: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    #: A national operator (an operator client only) administers the organisations of the
    #: matrix's national actor kinds, in every territory, and their clients.
    national: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    #: The data protection officer (an operator client only): reads the whole access journal
    #: of the notebooks within its reach, every organisation's entries.
    dpo: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    #: ``private_key_jwt`` (RFC 7523): the client's public keys, inline or by URL. Such a
    #: client has no secret (empty ``secret_hash``).
    jwks: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    jwks_uri: str | None = Field(default=None, max_length=500)
    cree_le: datetime = _ts(nullable=False)


class SigningKey(SQLModel, table=True):
    __tablename__ = "cles_signature"

    kid: str = Field(primary_key=True, max_length=64)
    jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    actif: bool = True
    cree_le: datetime = _ts(nullable=False)


class NotebookRow(SQLModel, table=True):
    __tablename__ = "carnets"
    __table_args__ = (
        Index("ix_carnets_identite", "territoire", "nom_cle", "prenom_cle", "date_naissance"),
        Index("ix_carnets_territoire_rang", "territoire", "rang"),
        # A NIR designates one notebook per territory (migration 0023).
        Index("ux_carnets_territoire_nir", "territoire", "nir13", unique=True),
    )

    rang: int | None = Field(default=None, sa_column=Column(AutoIncrement, primary_key=True))
    id: str = Field(unique=True, max_length=36)
    territoire: str = Field(max_length=3)
    version: int
    #: The NIR's 13 characters (column ``nir``; SQLite databases migrated from before 0023
    #: keep an empty ``nir13`` column beside it).
    nir13: str | None = Field(
        default=None, sa_column=Column("nir", String(13), key="nir13", nullable=True)
    )
    nom_cle: str = Field(max_length=100)
    prenom_cle: str = Field(max_length=100)
    date_naissance: date
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: The head of the consolidated view (its first members, JSON, UTF-8, without the object's
    #: braces), rendered at write time; the sections' members are those of
    #: :class:`NotebookSectionState`, the labels those of :class:`NotebookLabels` (see
    #: :func:`gateway.notebooks.view.assemble`).
    tete: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    #: The data categories the notebook holds (a read withholding none of them is served as is).
    categories: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    cree_le: datetime = _ts(nullable=False)
    modifie_le: datetime = _ts(nullable=False, index=True)


class NotebookSectionState(SQLModel, table=True):
    """One section of a notebook: its part of the merge state (its units and collections, as
    JSON) and the section as the view shows it (its value and the provenance of its units).

    A write rewrites the sections it changed, not the whole state and view; the notebook's
    ``document`` keeps what the sections share (provenances, digests of resent sections), its
    ``tete`` and ``libelles`` the rest of the view.
    """

    __tablename__ = "carnets_etats"

    carnet_id: str = Field(foreign_key="carnets.id", primary_key=True, max_length=36)
    volet: str = Field(primary_key=True, max_length=20)
    etat: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    #: The section's value in the view (JSON); None when the view does not show the section.
    vue: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    #: The provenance of its units as members of the view's ``provenance`` object (JSON
    #: without the braces; empty when it has none).
    provenance: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class NotebookLabels(SQLModel, table=True):
    """The labels of the codes of a notebook's view (its ``libelles`` member, JSON): a row of
    its own, rewritten only by a write that changes them."""

    __tablename__ = "carnets_libelles"

    carnet_id: str = Field(foreign_key="carnets.id", primary_key=True, max_length=36)
    libelles: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class PartnerIdentifier(SQLModel, table=True):
    """A partner identifier of a person (CAF/MSA matricule, France Travail, département IS)."""

    __tablename__ = "identifiants"

    type: str = Field(primary_key=True, max_length=20)
    valeur: str = Field(primary_key=True, max_length=100)
    #: An identifier designates one notebook per territory (migration 0023).
    territoire: str = Field(primary_key=True, max_length=3)
    carnet_id: str = Field(foreign_key="carnets.id", index=True, max_length=36)


class Change(SQLModel, table=True):
    """One effective change of a notebook, in the same transaction as the notebook.

    The table also has an ``xid`` column, filled by the server (the writing transaction's id on
    PostgreSQL, 0 on SQLite) and read by the feed only (gateway/storage/feed.py).
    """

    __tablename__ = "changements"
    __table_args__ = (UniqueConstraint("carnet_id", "version"),)

    seq: int | None = Field(default=None, sa_column=Column(AutoIncrement, primary_key=True))
    carnet_id: str = Field(max_length=36)
    version: int
    sections: list[str] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=80)
    horodatage: datetime = _ts(nullable=False)
    #: The notebook's territory (the feed filters on it without a join).
    territoire: str | None = Field(default=None, max_length=3)
    #: The data categories the change touched, one bit each (see gateway/storage/feed.py).
    masque: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class FeedHorizon(SQLModel, table=True):
    """How far the change log was purged: a feed cursor before this point has expired."""

    __tablename__ = "changements_horizon"

    nom: str = Field(primary_key=True, max_length=20)
    xid: int = Field(sa_column=Column(BigInteger, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    purge_le: datetime = _ts(nullable=False)


class Subscription(SQLModel, table=True):
    """A webhook subscription of an organisation: where to push, which events, how to sign.

    The gateway signs with the signing secrets (HMAC), so it needs them in clear: they are
    kept sealed (AES-256-GCM, :mod:`gateway.sealing`), never as issued; during a rotation the
    previous one stays valid until ``precedent_expire_le``.
    """

    __tablename__ = "abonnements"

    id: str = Field(primary_key=True, max_length=36)
    organisation_id: str = Field(index=True, max_length=36)
    client_id: str = Field(max_length=64)
    url: str = Field(max_length=2000)
    territoires: list[str] = Field(sa_column=Column(JSON, nullable=False))
    sections: list[str] = Field(sa_column=Column(JSON, nullable=False))
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=200)
    secret_precedent: str | None = Field(default=None, max_length=200)
    precedent_expire_le: datetime | None = _ts(nullable=True)
    actif: bool = True
    motif_desactivation: str | None = Field(default=None, max_length=60)
    #: Embed the changed sections, projected on the categories the organisation may export.
    inclure_sections: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    #: The purpose those embeddings are journaled with (one of its actor kind's).
    finalite: str | None = Field(default=None, max_length=40)
    cree_le: datetime = _ts(nullable=False)
    modifie_le: datetime = _ts(nullable=False)


class Delivery(SQLModel, table=True):
    """One event to deliver to one subscription (the outbox), written in the transaction of
    the change; claimed by a worker for a lease (``bail``), then delivered, retried or given up
    (dead letter)."""

    __tablename__ = "livraisons"
    __table_args__ = (
        Index("ix_livraisons_a_faire", "statut", "prochaine_tentative"),
        Index("ix_livraisons_abonnement", "abonnement_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(AutoIncrement, primary_key=True))
    abonnement_id: str = Field(max_length=36)
    #: The ``webhook-id``: the same for every attempt, so that receivers deduplicate.
    evenement_id: str = Field(max_length=40)
    type: str = Field(max_length=40)
    carnet_id: str | None = Field(default=None, max_length=36)
    version: int | None = None
    territoire: str | None = Field(default=None, max_length=3)
    sections: list[str] = Field(sa_column=Column(JSON, nullable=False))
    horodatage: datetime = _ts(nullable=False)
    #: en_attente, livre, echec (dead letter: every attempt failed), abandonne (410).
    statut: str = Field(max_length=20)
    tentatives: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    prochaine_tentative: datetime = _ts(nullable=False)
    bail: str | None = Field(default=None, max_length=36)
    dernier_statut_http: int | None = None
    derniere_erreur: str | None = Field(default=None, max_length=60)
    #: Where the last body departed from its published schema (``corps_non_conforme``):
    #: pointers and codes, never a value.
    erreurs: list[dict[str, str]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    livre_le: datetime | None = _ts(nullable=True)
    cree_le: datetime = _ts(nullable=False)


class IdempotencyRecord(SQLModel, table=True):
    """What identifies the first answer to a write with an ``Idempotency-Key``, without
    personal data: ``corps`` never holds the notebook the answer embedded (``avec_carnet``
    says it did, ``carnet_id`` which one); a replay renders it again under the caller's
    current rights."""

    __tablename__ = "idempotence"

    client_id: str = Field(primary_key=True, max_length=64)
    cle: str = Field(primary_key=True, max_length=255)
    empreinte: str = Field(max_length=64)
    statut: int
    corps: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    entetes: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    avec_carnet: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    carnet_id: str | None = Field(default=None, max_length=36)
    cree_le: datetime = _ts(nullable=False, index=True)


class IdentityConflict(SQLModel, table=True):
    """An identity conflict for operators: no personal data, only ids and a reason code."""

    __tablename__ = "conflits_identite"

    id: int | None = Field(default=None, sa_column=Column(AutoIncrement, primary_key=True))
    carnet_id: str = Field(max_length=36, index=True)
    territoire: str = Field(max_length=3)
    raison: str = Field(max_length=60)
    pointeur: str = Field(max_length=200)
    client_id: str = Field(max_length=64)
    cree_le: datetime = _ts(nullable=False)


class FollowUpMember(SQLModel, table=True):
    """A membership of a notebook's follow-up group: the recorded relationship that puts the
    notebook within an organisation's need to know while it is current (``jusqu_au`` unset).

    ``base`` says why it exists: ``orientation`` (an orientation decision of the territory),
    ``mission_territoriale`` (designated by the département), ``rattachement_accepte`` (a join
    request accepted) or ``creation`` (the organisation created the notebook). Writing to a
    notebook never creates one.
    """

    __tablename__ = "groupe_suivi"
    __table_args__ = (
        Index(
            "ux_groupe_suivi_actif",
            "carnet_id",
            "organisation_id",
            unique=True,
            sqlite_where=text("jusqu_au IS NULL"),
            postgresql_where=text("jusqu_au IS NULL"),
        ),
        Index("ix_groupe_suivi_organisation", "organisation_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    carnet_id: str = Field(foreign_key="carnets.id", max_length=36)
    organisation_id: str = Field(max_length=36)
    #: ``referent`` (the referent structure) or ``membre``.
    role: str = Field(max_length=20)
    base: str = Field(max_length=40)
    depuis: datetime = _ts(nullable=False)
    jusqu_au: datetime | None = _ts(nullable=True)
    #: The client that recorded it (None: recorded by a migration).
    client_id: str | None = Field(default=None, max_length=64)
    #: For the referent structure: its agent designated as the person's referent, who is
    #: served the categories the matrix reserves to the referent (``reserve_au_referent``).
    agent_id: str | None = Field(default=None, max_length=36)


class Agent(SQLModel, table=True):
    """A person at the keyboard of an organisation (R. 263-5: the persons its organisation
    designates), named by the calls on notebooks (header ``Agent`` or token claim ``agent``)
    and recorded in the journal by this opaque id only."""

    __tablename__ = "agents"

    id: str = Field(primary_key=True, max_length=36)
    organisation_id: str = Field(foreign_key="organisations.id", index=True, max_length=36)
    nom: str = Field(max_length=200)
    courriel: str = Field(max_length=255)
    role: str = Field(max_length=100)
    #: Its ``sub`` at the external identity provider, whose tokens name it that way.
    sub: str | None = Field(default=None, max_length=255, index=True)
    #: The categories reserved to the referent that this agent is habilitated for anyway
    #: (``sante_handicap``, ``justice``), with the decision's author and reason in the journal.
    habilitations: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    actif: bool = True
    cree_le: datetime = _ts(nullable=False)


class JoinRequest(SQLModel, table=True):
    """An organisation's request to join a notebook's follow-up group, and its decision."""

    __tablename__ = "rattachements"
    __table_args__ = (
        Index("ix_rattachements_carnet", "carnet_id", "demande_le"),
        Index(
            "ux_rattachements_en_attente",
            "carnet_id",
            "organisation_id",
            unique=True,
            sqlite_where=text("statut = 'en_attente'"),
            postgresql_where=text("statut = 'en_attente'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    carnet_id: str = Field(foreign_key="carnets.id", max_length=36)
    organisation_id: str = Field(max_length=36)
    client_id: str = Field(max_length=64)
    #: Why the organisation asks (professional wording; shown to who decides).
    motif: str = Field(max_length=500)
    #: en_attente, accepte, refuse.
    statut: str = Field(max_length=20)
    #: Accepted by the territory's configuration, not by a person.
    automatique: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    demande_le: datetime = _ts(nullable=False)
    decide_le: datetime | None = _ts(nullable=True)
    decideur_organisation_id: str | None = Field(default=None, max_length=36)
    motif_decision: str | None = Field(default=None, max_length=500)


class IdentificationFailures(SQLModel, table=True):
    """Failed identifications of one client in the current window (no personal data)."""

    __tablename__ = "identification_echecs"

    client_id: str = Field(primary_key=True, max_length=64)
    fenetre: datetime = _ts(nullable=False)
    nombre: int


class JournalEntry(SQLModel, table=True):
    """One access to personal data: who, which notebook, which categories, why, and the outcome.

    No personal data: ids, codes and the time only.
    """

    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_carnet", "carnet_id", "seq"),)

    seq: int | None = Field(default=None, sa_column=Column(AutoIncrement, primary_key=True))
    horodatage: datetime = _ts(nullable=False, index=True)
    client_id: str = Field(max_length=64)
    organisation_id: str = Field(max_length=36, index=True)
    type_acteur: str = Field(max_length=40)
    carnet_id: str | None = Field(default=None, max_length=36)
    action: str = Field(max_length=20)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    finalite: str | None = Field(default=None, max_length=40)
    resultat: str = Field(max_length=40)
    #: On whose behalf a partner system was asked (a synchronisation): the professional's
    #: identifier as the caller sent it, or BATCH; never a name.
    agent: str | None = Field(default=None, max_length=64)


class UsedAssertion(SQLModel, table=True):
    """A client assertion (``private_key_jwt``) already used, until it expires: replays fail."""

    __tablename__ = "assertions_utilisees"

    client_id: str = Field(primary_key=True, max_length=64)
    jti: str = Field(primary_key=True, max_length=255)
    expire_le: datetime = _ts(nullable=False, index=True)


class ConnectorHealth(SQLModel, table=True):
    """The health of one connector, shared by every worker: counters, last success, last
    failure and its code, circuit state (as last reported)."""

    __tablename__ = "connecteurs_sante"

    slug: str = Field(primary_key=True, max_length=60)
    appels: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reussites: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    echecs: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    inchanges: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    codes_inconnus: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    champs_inconnus: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    derniere_reussite: datetime | None = _ts(nullable=True)
    dernier_echec: datetime | None = _ts(nullable=True)
    dernier_code_erreur: str | None = Field(default=None, max_length=60)
    circuit: str = Field(default="ferme", max_length=20)


class ConnectorPull(SQLModel, table=True):
    """A connector's last pull for one notebook: when, what came of it, the hash of the last
    dossier applied (never the dossier itself)."""

    __tablename__ = "connecteurs_suivi"

    slug: str = Field(primary_key=True, max_length=60)
    carnet_id: str = Field(primary_key=True, max_length=36)
    derniere_tentative: datetime = _ts(nullable=False)
    derniere_reussite: datetime | None = _ts(nullable=True)
    dernier_resultat: str = Field(max_length=40)
    empreinte: str | None = Field(default=None, max_length=64)
    #: Since when the upstream system no longer confirms what it said (a dossier vanished).
    non_confirme_depuis: datetime | None = _ts(nullable=True)


class ImportJob(SQLModel, table=True):
    """One file import: who sent it, the SHA-256 of its bytes (never the file), its state, how
    far it went (the last foyer applied, committed with that foyer) and its report."""

    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_empreinte", "connecteur", "sha256"),)

    id: str = Field(primary_key=True, max_length=36)
    connecteur: str = Field(max_length=60)
    sha256: str = Field(max_length=64)
    organisation_id: str = Field(max_length=36)
    client_id: str = Field(max_length=64)
    #: en_attente, en_cours, termine, rejete, echec.
    statut: str = Field(max_length=20, index=True)
    octets: int = Field(sa_column=Column(BigInteger, nullable=False))
    foyers_traites: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    foyers_total: int | None = Field(default=None)
    #: The claim of the process running the job.
    proprietaire: str | None = Field(default=None, max_length=36)
    cree_le: datetime = _ts(nullable=False)
    modifie_le: datetime = _ts(nullable=False)
    rapport: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ImportState(SQLModel, table=True):
    """What a file connector last applied to one notebook: the observation key of its file
    (ordering) and the hash of the person's normalised record (record-level idempotency)."""

    __tablename__ = "imports_suivi"

    connecteur: str = Field(primary_key=True, max_length=60)
    carnet_id: str = Field(primary_key=True, max_length=36)
    observation: str = Field(max_length=40)
    empreinte: str = Field(max_length=64)
    import_id: str = Field(max_length=36)
