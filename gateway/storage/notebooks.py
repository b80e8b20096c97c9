"""Every query on notebooks. Services call these; they never build SQL themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import bindparam, delete, func, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from gateway.notebooks.merge import joined_state, shared_part, state_parts
from gateway.notebooks.view import SECTION_RANK, Fragment, Rendered, assemble
from gateway.storage import driver
from gateway.storage.database import Database
from gateway.storage.driver import json_list
from gateway.storage.tables import (
    Change,
    FollowUpMember,
    IdempotencyRecord,
    JournalEntry,
    NotebookLabels,
    NotebookRow,
    NotebookSectionState,
    PartnerIdentifier,
)

if TYPE_CHECKING:
    from gateway.habilitation.categories import ProjectionCache

_COLUMNS = NotebookRow.__table__.c  # type: ignore[attr-defined]
_MEMBERS = FollowUpMember.__table__.c  # type: ignore[attr-defined]


@dataclass(slots=True)
class StoredNotebook:
    """A notebook as a write transaction holds it: its columns, and its state once loaded."""

    id: str
    territoire: str
    version: int
    nir13: str | None
    nom_cle: str
    prenom_cle: str
    date_naissance: date
    cree_le: datetime
    modifie_le: datetime
    document: dict[str, Any] = field(default_factory=dict)
    #: The whole view as served, set only when an answer needs it.
    vue: bytes = b""
    #: The data categories the view holds (set with it).
    categories: list[str] = field(default_factory=list)
    #: Whether the calling organisation is a current member of the notebook's follow-up group,
    #: and its referent structure.
    membre: bool = False
    referent_structure: bool = False
    #: The view of ``document`` rendered, when known.
    rendered: Rendered | None = None


_LOCKED = (
    sa_select(
        _COLUMNS.id,
        _COLUMNS.territoire,
        _COLUMNS.version,
        _COLUMNS.nir13,
        _COLUMNS.nom_cle,
        _COLUMNS.prenom_cle,
        _COLUMNS.date_naissance,
        _COLUMNS.cree_le,
        _COLUMNS.modifie_le,
    )
    .where(_COLUMNS.id == bindparam("carnet_id"))
    .with_for_update()
)
_DOCUMENT = sa_select(_COLUMNS.document).where(_COLUMNS.id == bindparam("carnet_id"))
_PARTS = NotebookSectionState.__table__.c  # type: ignore[attr-defined]
_STATE_PARTS = (
    sa_select(_PARTS.volet, _PARTS.etat)
    .where(_PARTS.carnet_id == bindparam("carnet_id"))
    .order_by(_PARTS.volet)
)
_DELETE_PART = delete(_PARTS.carnet_id.table).where(
    _PARTS.carnet_id == bindparam("carnet_id"), _PARTS.volet == bindparam("section")
)


def _upserts(table: Any, keys: tuple[str, ...], values: tuple[str, ...]) -> dict[str, Any]:
    """By dialect, an INSERT into ``table`` that sets ``values`` on the row of the same
    ``keys`` when there is one: written in one statement whether stored before or not."""
    statements = {}
    for dialect, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert)):
        statement = dialect_insert(table)
        statements[dialect] = statement.on_conflict_do_update(
            index_elements=[table.c[key] for key in keys],
            set_={name: statement.excluded[name] for name in values},
        )
    return statements


#: A section of a notebook, its part of the state and of the view.
_UPSERT_PART = _upserts(
    _PARTS.carnet_id.table, ("carnet_id", "volet"), ("etat", "vue", "provenance")
)
_LABELS = NotebookLabels.__table__.c  # type: ignore[attr-defined]
_UPSERT_LABELS = _upserts(_LABELS.carnet_id.table, ("carnet_id",), ("libelles",))


def by_id_for_update(session: Session, carnet_id: str) -> StoredNotebook | None:
    """The notebook's columns, locked for the transaction, without its state (see
    :func:`document`); written back by :func:`save_version`."""
    found = driver.fetch(session, _LOCKED, {"carnet_id": carnet_id})
    return StoredNotebook(*found[0]) if found else None


def document(session: Session, carnet_id: str) -> dict[str, Any]:
    """The stored state of a notebook: its shared part and the parts of its sections."""
    ((shared,),) = driver.fetch(session, _DOCUMENT, {"carnet_id": carnet_id})
    parts = driver.fetch(session, _STATE_PARTS, {"carnet_id": carnet_id})
    return joined_state(shared, (orjson.loads(etat) for _, etat in parts))


def save_parts(
    session: Session,
    carnet_id: str,
    state: Mapping[str, Any],
    fragments: Mapping[str, Fragment],
    sections: Iterable[str],
) -> None:
    """Store the sections ``sections`` of ``state``, rendered as ``fragments``: each one's
    part of the state and of the view (those holding nothing are removed). One statement for
    the sections written (an upsert), one more only when a section was emptied."""
    sections = set(sections)
    parts = state_parts(state, sections)
    emptied = sorted(sections - parts.keys())
    if emptied:
        keys = [{"carnet_id": carnet_id, "section": section} for section in emptied]
        driver.run_many(session, _DELETE_PART, keys)
    rows = []
    for section, part in sorted(parts.items()):
        fragment = fragments[section]
        shown = fragment.value is not None
        rows.append(
            {
                "carnet_id": carnet_id,
                "volet": section,
                "etat": orjson.dumps(part),
                "vue": fragment.value_json if shown else None,
                "provenance": fragment.provenance_json if shown else None,
            }
        )
    driver.run_many(session, _UPSERT_PART[session.get_bind().dialect.name], rows)


def insert_notebook(session: Session, notebook: StoredNotebook) -> None:
    """Insert a new notebook, rendered (``notebook.rendered``)."""
    assert notebook.rendered is not None
    session.execute(
        insert(NotebookRow).values(
            id=notebook.id,
            territoire=notebook.territoire,
            version=notebook.version,
            nir13=notebook.nir13,
            nom_cle=notebook.nom_cle,
            prenom_cle=notebook.prenom_cle,
            date_naissance=notebook.date_naissance,
            document=shared_part(notebook.document),
            tete=notebook.rendered.head,
            categories=notebook.categories,
            cree_le=notebook.cree_le,
            modifie_le=notebook.modifie_le,
        )
    )
    parts = state_parts(notebook.document)
    save_parts(session, notebook.id, notebook.document, notebook.rendered.fragments, parts)
    save_labels(session, notebook.id, notebook.rendered.libelles)


def save_labels(session: Session, carnet_id: str, libelles: bytes) -> None:
    """Store the labels of a notebook's view (one upsert)."""
    driver.run(
        session,
        _UPSERT_LABELS[session.get_bind().dialect.name],
        {"carnet_id": carnet_id, "libelles": libelles},
    )


def view_of(tete: Any, libelles: Any, sections: Iterable[tuple[Any, Any, Any]]) -> bytes:
    """The whole view from its stored pieces (bytes as the driver gives them): the head and
    labels of the notebook (None: it has none), and ``(section, value, provenance)`` of its
    sections shown, in any order (rows of NULLs, as a notebook without any section shown
    gives, are skipped)."""
    ordered: list[tuple[str, bytes, bytes] | None] = [None] * len(SECTION_RANK)
    for volet, vue, provenance in sections:
        if volet is not None:
            ordered[SECTION_RANK[volet]] = (volet, vue, provenance or b"")
    shown = [piece for piece in ordered if piece is not None]
    return assemble(tete, shown, b"{}" if libelles is None else libelles)


def stored_view(session: Session, carnet_id: str) -> tuple[bytes, list[str]]:
    """The rendered view of a notebook and the categories it holds, in the session's
    transaction."""
    found = _view_from_pieces(driver.fetch(session, _VIEW_PIECES, {"carnet_id": carnet_id}))
    assert found is not None, carnet_id
    return found[2], list(json_list(found[1]))


_SECTION_VALUE = sa_select(_PARTS.vue).where(
    _PARTS.carnet_id == bindparam("carnet_id"), _PARTS.volet == bindparam("section")
)


def stored_section(session: Session, carnet_id: str, section: str) -> Any:
    """The value of one section of a notebook's view (None when it shows nothing there)."""
    found = driver.fetch(session, _SECTION_VALUE, {"carnet_id": carnet_id, "section": section})
    return orjson.loads(found[0][0]) if found and found[0][0] is not None else None


# -- need to know -------------------------------------------------------------------------------


#: The need to know of relation-scoped callers: a current membership of the follow-up group.
_MEMBERSHIP = sa_select(_MEMBERS.id).where(
    _MEMBERS.carnet_id == bindparam("carnet_id"),
    _MEMBERS.organisation_id == bindparam("organisation"),
    _MEMBERS.jusqu_au.is_(None),
)
_ROLE = sa_select(_MEMBERS.role).where(
    _MEMBERS.carnet_id == bindparam("carnet_id"),
    _MEMBERS.organisation_id == bindparam("organisation"),
    _MEMBERS.jusqu_au.is_(None),
)
_JOURNAL = insert(JournalEntry.__table__)  # type: ignore[attr-defined]
_CHANGE = insert(Change.__table__)  # type: ignore[attr-defined]
#: Columns a new version sets; the identity columns only when they change (each is indexed).
_VERSION_COLUMNS = ("version", "document", "tete", "categories", "modifie_le")
_IDENTITY_COLUMNS = ("nir13", "nom_cle", "prenom_cle")


def _version_update(columns: tuple[str, ...]) -> Any:
    return (
        update(_COLUMNS.id.table)
        .where(_COLUMNS.id == bindparam("row_id"), _COLUMNS.version == bindparam("expected"))
        .values({name: bindparam(name) for name in columns})
    )


_SAVE_VERSION = _version_update(_VERSION_COLUMNS)
_SAVE_VERSION_AND_IDENTITY = _version_update(_VERSION_COLUMNS + _IDENTITY_COLUMNS)


def linked(session: Session, carnet_id: str, organisation_id: str) -> bool:
    """Is the organisation a current member of the notebook's follow-up group?"""
    parameters = {"carnet_id": carnet_id, "organisation": organisation_id}
    return bool(driver.fetch(session, _MEMBERSHIP, parameters))


def role_of(session: Session, carnet_id: str, organisation_id: str) -> str | None:
    """The organisation's current role in the notebook's follow-up group (``referent``: the
    referent structure, ``membre``), None when it is no member."""
    parameters = {"carnet_id": carnet_id, "organisation": organisation_id}
    found = driver.fetch(session, _ROLE, parameters)
    return str(found[0][0]) if found else None


def record_access(session: Session, entry: dict[str, Any]) -> None:
    """Journal an access (see :meth:`gateway.habilitation.guard.Guard.entry`)."""
    driver.run(session, _JOURNAL, entry)


def record_accesses(session: Session, entries: list[dict[str, Any]]) -> None:
    """Journal several accesses in one statement."""
    if entries:
        driver.run_many(session, _JOURNAL, entries)


def version_of(session: Session, carnet_id: str) -> int:
    found = session.execute(sa_select(_COLUMNS.version).where(_COLUMNS.id == carnet_id))
    return int(found.scalar_one())


def territory_of(session: Session, carnet_id: str) -> str | None:
    found = session.execute(sa_select(_COLUMNS.territoire).where(_COLUMNS.id == carnet_id))
    return found.scalar_one_or_none()


def journal_of(
    session: Session,
    *,
    after: int | None,
    limit: int,
    carnet_id: str | None = None,
    organisation_id: str | None = None,
) -> list[JournalEntry]:
    """Journal entries of a notebook and/or of an organisation, oldest first, after the entry
    ``after``."""
    statement = select(JournalEntry)
    if carnet_id is not None:
        statement = statement.where(JournalEntry.carnet_id == carnet_id)
    if organisation_id is not None:
        statement = statement.where(JournalEntry.organisation_id == organisation_id)
    if after is not None:
        statement = statement.where(col(JournalEntry.seq) > after)
    return list(session.exec(statement.order_by(col(JournalEntry.seq)).limit(limit)))


#: The hot read's first query: the caller's client and organisation must be active (no row
#: otherwise), the caller's organisation, and the notebook's version and territory with
#: whether the organisation is linked to it (NULLs when unknown); the habilitations of the
#: agent the call names (NULL: no such active agent of the organisation) and whether it is the
#: notebook's designated referent agent. The view itself comes
#: from memory when this version's is held, from :func:`load_view` otherwise.
VIEW_FOR_CLIENT = text(
    "SELECT c.version, c.territoire,"
    " o.id, o.type_acteur, o.territoires, o.derogations,"
    " EXISTS (SELECT 1 FROM groupe_suivi g WHERE g.carnet_id = c.id"
    " AND g.organisation_id = o.id AND g.jusqu_au IS NULL),"
    " cl.operateur,"
    " (SELECT a.habilitations FROM agents a"
    " WHERE a.id = :agent AND a.organisation_id = o.id AND a.actif),"
    " EXISTS (SELECT 1 FROM groupe_suivi r WHERE r.carnet_id = c.id AND r.agent_id = :agent"
    " AND r.role = 'referent' AND r.jusqu_au IS NULL),"
    " EXISTS (SELECT 1 FROM groupe_suivi s WHERE s.carnet_id = c.id"
    " AND s.organisation_id = o.id AND s.role = 'referent' AND s.jusqu_au IS NULL)"
    " FROM clients cl"
    " JOIN organisations o ON o.id = cl.organisation_id"
    " LEFT JOIN carnets c ON c.id = :carnet_id"
    " WHERE cl.client_id = :client_id AND cl.actif AND o.actif"
)


def view_for_client(
    database: Database, carnet_id: str, client_id: str, agent: str | None
) -> tuple[Any, ...] | None:
    """:data:`VIEW_FOR_CLIENT`'s row (None: no active client of an active organisation), from
    the database's reading connections: the hot read's one query."""
    return database.fetch_one(
        VIEW_FOR_CLIENT, {"carnet_id": carnet_id, "client_id": client_id, "agent": agent}
    )


#: A notebook's stored view in one query (one snapshot): its version, categories, head and
#: labels, then one row per section the view shows, its pieces in the last three columns.
_VIEW_PIECES = text(
    "SELECT c.version, c.categories, c.tete, l.libelles, NULL, NULL, NULL"
    " FROM carnets c LEFT JOIN carnets_libelles l ON l.carnet_id = c.id"
    " WHERE c.id = :carnet_id"
    " UNION ALL"
    " SELECT NULL, NULL, NULL, NULL, e.volet, e.vue, e.provenance"
    " FROM carnets_etats e WHERE e.carnet_id = :carnet_id AND e.vue IS NOT NULL"
)


def load_view(database: Database, carnet_id: str) -> tuple[int, Any, bytes] | None:
    """The version of a notebook, its categories and its view as stored now (None when it
    does not exist), from the database's reading connections. Columns come as the driver
    gives them."""
    return _view_from_pieces(database.fetch_all(_VIEW_PIECES, {"carnet_id": carnet_id}))


def _view_from_pieces(rows: list[tuple[Any, ...]]) -> tuple[int, Any, bytes] | None:
    head = next((row for row in rows if row[4] is None), None)
    if head is None:
        return None
    version, categories, tete, libelles = head[:4]
    return version, categories, view_of(tete, libelles, (row[4:] for row in rows))


def cached_view(
    database: Database, cache: ProjectionCache, carnet_id: str, version: int
) -> tuple[int, list[str], bytes] | None:
    """A notebook's version, categories and whole view: the view of ``version`` from
    ``cache`` when it holds it, otherwise the view stored now, assembled and kept (a write
    committed since ``version`` was read gives its own version and categories); None when the
    notebook no longer exists."""
    kept = cache.get((carnet_id, version, None, None))
    if kept is not None:
        return version, kept[1], kept[0]
    loaded = load_view(database, carnet_id)
    if loaded is None:
        return None
    version, categories, vue = loaded
    held = list(json_list(categories))
    cache.put((carnet_id, version, None, None), (vue, held))
    return version, held, vue


def by_nir(session: Session, nir13: str, territoire: str) -> NotebookRow | None:
    """The notebook of a NIR in a territory (a NIR designates one notebook per territory)."""
    statement = select(NotebookRow).where(
        NotebookRow.nir13 == nir13, NotebookRow.territoire == territoire
    )
    return session.exec(statement).first()


def ids_by_identifiers(
    session: Session, identifiers: dict[str, str], territoire: str | None = None
) -> set[str]:
    """The notebooks holding partner identifiers: in ``territoire`` (one per identifier), or
    in any territory (a search, narrowed to the caller's territories afterwards)."""
    if not identifiers:
        return set()
    found: set[str] = set()
    for kind, value in identifiers.items():
        if territoire is not None:
            row = session.get(PartnerIdentifier, (kind, value, territoire))
            if row is not None:
                found.add(row.carnet_id)
            continue
        statement = select(PartnerIdentifier.carnet_id).where(
            PartnerIdentifier.type == kind, PartnerIdentifier.valeur == value
        )
        found.update(session.exec(statement))
    return found


def by_identity(
    session: Session, territoire: str, nom_cle: str, prenom_cle: str, date_naissance: date
) -> list[NotebookRow]:
    statement = select(NotebookRow).where(
        NotebookRow.territoire == territoire,
        NotebookRow.nom_cle == nom_cle,
        NotebookRow.prenom_cle == prenom_cle,
        NotebookRow.date_naissance == date_naissance,
    )
    return list(session.exec(statement))


def rows_by_ids(session: Session, ids: set[str]) -> list[NotebookRow]:
    if not ids:
        return []
    return list(session.exec(select(NotebookRow).where(col(NotebookRow.id).in_(ids))))


def add_identifiers(
    session: Session, carnet_id: str, territoire: str, identifiers: dict[str, str]
) -> list[str]:
    """Record the partner identifiers of a notebook; the types already held by another one of
    its territory."""
    taken = []
    for kind, value in identifiers.items():
        existing = session.get(PartnerIdentifier, (kind, value, territoire))
        if existing is None:
            session.add(
                PartnerIdentifier(
                    type=kind, valeur=value, territoire=territoire, carnet_id=carnet_id
                )
            )
        elif existing.carnet_id != carnet_id:
            taken.append(kind)
    return taken


def save_version(
    session: Session, row: StoredNotebook, expected_version: int, *, identity: bool
) -> bool:
    """Store ``row`` as its new version if the stored one is still ``expected_version``: its
    shared state, the head of its view (the sections that changed are stored by
    :func:`save_parts`, the labels by :func:`save_labels`), its identity columns too when
    ``identity`` (they changed)."""
    assert row.rendered is not None
    values = {
        "version": row.version,
        "document": shared_part(row.document),
        "tete": row.rendered.head,
        "categories": row.categories,
        "modifie_le": row.modifie_le,
    }
    if identity:
        values.update({name: getattr(row, name) for name in _IDENTITY_COLUMNS})
    values["row_id"], values["expected"] = row.id, expected_version
    statement = _SAVE_VERSION_AND_IDENTITY if identity else _SAVE_VERSION
    return driver.run(session, statement, values) == 1


def log_change(
    session: Session,
    *,
    carnet_id: str,
    version: int,
    sections: list[str],
    source: str,
    horodatage: datetime,
    masque: int = 0,
    territoire: str | None = None,
) -> None:
    """Record one effective change of a notebook (in the transaction of the change), with the
    data categories it touched as a bit mask (see :func:`gateway.storage.feed.mask`)."""
    driver.run(
        session,
        _CHANGE,
        {
            "carnet_id": carnet_id,
            "version": version,
            "sections": sections,
            "source": source,
            "horodatage": horodatage,
            "masque": masque,
            "territoire": territoire,
        },
    )


def idempotency_record(session: Session, client_id: str, key: str) -> IdempotencyRecord | None:
    return session.get(IdempotencyRecord, (client_id, key))


def save_idempotency(session: Session, record: IdempotencyRecord) -> None:
    session.add(record)


def add_row(session: Session, row: Any) -> None:
    """Add a row of any table to the session's transaction (what a refused request leaves
    behind: its journal entry, an identity conflict)."""
    session.add(row)


def purge_idempotency(session: Session, client_id: str, before: datetime) -> None:
    """Forget a client's idempotency records older than ``before``."""
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.client_id) == client_id, col(IdempotencyRecord.cree_le) < before
        )
    )


def first_found(session: Session, statement: Any) -> NotebookRow | None:
    """The first notebook a :func:`search_statement` finds."""
    found: NotebookRow | None = session.exec(statement).first()
    return found


def search_statement(
    territoires: Sequence[str],
    *,
    linked_to: str | None = None,
    nir13: str | None = None,
    date_naissance: date | None = None,
    carnet_ids: set[str] | None = None,
    territoire: str | None = None,
    modifie_depuis: datetime | None = None,
) -> Any:
    """The search query, restricted to the caller's territories (and to the notebooks
    ``linked_to`` an organisation, when given), ordered by insertion rank."""
    statement = select(NotebookRow).where(col(NotebookRow.territoire).in_(territoires))
    if linked_to is not None:
        # Need to know, inside the query: only the notebooks whose follow-up group the
        # organisation is a current member of.
        statement = statement.where(
            sa_select(_MEMBERS.id)
            .where(
                _MEMBERS.carnet_id == NotebookRow.id,
                _MEMBERS.organisation_id == linked_to,
                _MEMBERS.jusqu_au.is_(None),
            )
            .exists()
        )
    if nir13 is not None:
        statement = statement.where(NotebookRow.nir13 == nir13)
    if date_naissance is not None:
        statement = statement.where(NotebookRow.date_naissance == date_naissance)
    if carnet_ids is not None:
        statement = statement.where(col(NotebookRow.id).in_(carnet_ids))
    if territoire is not None:
        statement = statement.where(NotebookRow.territoire == territoire)
    if modifie_depuis is not None:
        statement = statement.where(col(NotebookRow.modifie_le) >= modifie_depuis)
    return statement.order_by(col(NotebookRow.rang))


def count_in_territory(session: Session, territoire: str) -> int:
    """How many notebooks a territory holds."""
    statement = (
        select(func.count()).select_from(NotebookRow).where(NotebookRow.territoire == territoire)
    )
    return int(session.exec(statement).one())
