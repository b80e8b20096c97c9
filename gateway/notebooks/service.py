"""The notebook service: validate → resolve identity → merge → store, in one transaction.

The request handler owns the transaction; this module never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson

from gateway.auth.principal import Principal
from gateway.errors import ProblemError
from gateway.followup import membership
from gateway.habilitation.categories import FREE_TEXT, FREE_TEXT_FIELDS, category_mask, touched
from gateway.habilitation.guard import IDENTIFYING, Guard
from gateway.habilitation.matrix import SANDBOX
from gateway.notebooks.errors import (
    ConflictingIdentity,
    IdentificationFailed,
    InvalidPayload,
    NirNotAllowed,
    NotebookNotFound,
    StaleVersion,
    TerritoryForbidden,
    TerritoryRequired,
)
from gateway.notebooks.identity import name_key, partner_identifiers
from gateway.notebooks.merge import Outcome, Source, compact, empty_state, merge, resolve
from gateway.notebooks.states import StateCache
from gateway.notebooks.throttle import Throttle
from gateway.notebooks.view import render
from gateway.storage import Session, agents, followup
from gateway.storage import notebooks as repository
from gateway.storage.notebooks import StoredNotebook
from gateway.storage.tables import IdentityConflict, NotebookRow
from gateway.subscriptions import outbox
from referential import Finding, KnownSections, Report, Validator


@dataclass(slots=True)
class WriteResult:
    """What a write did, and what to answer."""

    row: StoredNotebook
    created: bool
    outcome: Outcome
    warnings: list[Finding] = field(default_factory=list)
    #: Whether the caller may read the notebook it wrote to; a caller that identified a
    #: person outside its need to know *discovered* the notebook: nothing was applied, and it
    #: is answered with what the legal frame lets it know (:meth:`discovery`).
    visible: bool = True
    #: Whether the caller's agent is the notebook's designated referent agent (it is served
    #: the categories reserved to the referent).
    referent: bool = False

    @property
    def referent_structure(self) -> bool:
        """Whether the caller's organisation is the notebook's referent structure (it is
        served every free text), as the write found it."""
        return self.row.referent_structure

    def body(self, notebook: bytes | None) -> bytes:
        """The answer, with the consolidated notebook as the caller may read it, when given."""
        head = orjson.dumps(
            {
                "id": self.row.id,
                "version": self.row.version,
                "cree": self.created,
                "resultat": self.outcome.to_wire(),
                "avertissements": [w.to_wire() for w in self.warnings],
            }
        )
        return head if notebook is None else embed(head, notebook)


def embed(head: bytes, notebook: bytes) -> bytes:
    """A write's answer ``head`` with the consolidated notebook as the caller may read it."""
    return head[:-1] + b',"carnet":' + notebook + b"}"


def validated(
    validator: Validator, kind: str, body: bytes, known: KnownSections | None = None
) -> Report:
    """A valid report, or InvalidPayload with every error located (the sections in ``known``
    are taken from there: see :meth:`Validator.validate_data`)."""
    report = validator.validate_data(kind, body, known=known)
    if not report.valid:
        raise InvalidPayload(
            f"{len(report.errors)} erreur(s) dans le contenu.",
            errors=[e.to_wire() for e in report.errors],
        )
    return report


#: The gateway itself, as the source of the follow-up group it records.
GATEWAY = Source(key="passerelle:groupe_suivi", type_acteur="passerelle")


def source_of(principal: Principal) -> Source:
    return Source(
        key=principal.source, type_acteur=principal.type_acteur, client=principal.client_id
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _contribution(report: Report, recu_le: datetime) -> dict[str, Any]:
    assert report.data is not None
    data = report.data
    data.pop("territoire", None)
    data.pop("version_referentiel", None)
    declared = data.get("observe_le")
    observed = (datetime.fromisoformat(declared) if declared else recu_le).astimezone(UTC)
    # Stored in UTC so that observations compare in time order whatever their offsets.
    data["observe_le"] = _iso(observed)
    if observed > recu_le:
        # An observation cannot be in the future: it would win over every later one.
        raise InvalidPayload(
            errors=[
                {
                    "pointer": "/observe_le",
                    "code": "observation_future",
                    "message": "La date d'observation ne peut pas être dans le futur.",
                }
            ]
        )
    return data


class NotebookService:
    def __init__(
        self,
        session: Session,
        validator: Validator,
        guard: Guard,
        lock: Callable[..., None] | None = None,
        *,
        states: StateCache | None = None,
        known: KnownSections | None = None,
        on_commit: Callable[[Session, Callable[[], None]], None] | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.session = session
        self.validator = validator
        self.guard = guard
        self.principal = guard.principal
        self._lock = lock
        self._states = states
        self._known = known
        self._on_commit = on_commit
        self._throttle = throttle

    # -- create or find ------------------------------------------------------------------------

    def create_or_find(self, body: bytes, *, with_view: bool = True) -> WriteResult:
        """Find the person's notebook or create it, and apply the rest of the contribution.

        Outside the caller's need to know, a notebook found is only *discovered*: nothing is
        applied and the answer says that it exists, its id and who follows it. The identity
        fields that found it never overwrite what it holds. Every failure to designate one
        notebook of the caller's territories gets the same answer (:class:`IdentificationFailed`).
        """
        if self._throttle is not None:
            self._throttle.check(self.session, self.guard)
        # A creation is new content more often than not: looking its sections up would cost
        # more than it saves (a third of the validation when none is known).
        report = validated(self.validator, "carnet", body)
        assert report.data is not None
        territoire = self._territory(report.data.get("territoire"))
        recu_le = _now()
        contribution = _contribution(report, recu_le)
        self._check_nir(contribution)
        parts = self.guard.check_write(contribution, self.validator.referential, identifying=True)
        personne = contribution["personne"]
        self._lock_identity(personne, territoire)
        found = self._resolve(personne, territoire)
        row = None if found is None else self._locked(found.id, discovery=True)
        if row is not None and not self.guard.may_touch(row.territoire, row.membre):
            repository.record_access(
                self.session, self.guard.entry("identification", row.id, [], "decouverte")
            )
            return WriteResult(row=row, created=False, outcome=Outcome(), visible=False)
        created = row is None
        referent = row is not None and self._referent(row.id, parts, with_view)
        self.guard.check_reserved(parts, referent)
        if row is not None:
            _matching_only(contribution)
        else:
            row = StoredNotebook(
                id=str(uuid.uuid4()),
                territoire=territoire,
                version=0,
                nir13=personne.get("nir"),
                nom_cle=name_key(personne["nom"]),
                prenom_cle=name_key(personne["prenom"]),
                date_naissance=date.fromisoformat(personne["date_naissance"]),
                cree_le=recu_le,
                modifie_le=recu_le,
                document=empty_state(),
            )
        result = self._apply(row, contribution, recu_le, parts, created=created)
        result.referent = referent
        if with_view:
            self._with_view(result.row)
        result.warnings = report.warnings
        return result

    def _referent(self, carnet_id: str, parts: Mapping[str, str], with_view: bool) -> bool:
        """Is the caller's agent the notebook's referent agent, when that matters."""
        if not self.guard.referent_matters(parts.values(), with_view):
            return False
        return agents.is_referent(self.session, carnet_id, self.guard.agent)

    def _check_nir(self, contribution: Mapping[str, Any]) -> None:
        """A NIR is sent only by the actor kinds whose matrix row opens matching by NIR."""
        personne = contribution.get("personne") or {}
        if personne.get("nir") and not self.guard.actor.nir:
            raise NirNotAllowed(
                errors=[
                    {
                        "pointer": "/personne/nir",
                        "code": "nir_non_autorise",
                        "message": "Votre type d'acteur ne peut pas transmettre ni rechercher de NIR.",
                    }
                ]
            )

    def _identifiers(self, personne: Mapping[str, Any]) -> dict[str, str]:
        """The partner identifiers of ``personne`` as stored; a software publisher's, in the
        sandbox's own namespace (its made-up values never meet a person's)."""
        found = partner_identifiers(personne.get("identifiants"))
        if self.guard.actor.portee == "bac_a_sable":
            return {kind: f"{SANDBOX}:{value}" for kind, value in found.items()}
        return found

    def _identify_only(self, contribution: dict[str, Any]) -> None:
        """Without the right to record identity, the identity fields only check that the
        contribution is about the notebook's person."""
        if self.guard.may_record_identity():
            return
        personne = contribution.get("personne") or {}
        for pointer in IDENTIFYING:
            personne.pop(pointer.rsplit("/", 1)[1], None)

    def _territory(self, requested: str | None) -> str:
        territoires = self.principal.territoires
        if requested is None:
            if len(territoires) != 1:
                raise TerritoryRequired(
                    "Votre organisation a plusieurs territoires : indiquez « territoire ».",
                    errors=[
                        {
                            "pointer": "/territoire",
                            "code": "territoire_requis",
                            "message": "Territoire requis.",
                        }
                    ],
                )
            return territoires[0]
        if requested not in territoires:
            raise TerritoryForbidden(
                errors=[
                    {
                        "pointer": "/territoire",
                        "code": "territoire_interdit",
                        "message": "Territoire hors de ceux de votre organisation.",
                    }
                ]
            )
        return requested

    def _lock_identity(self, personne: Mapping[str, Any], territoire: str) -> None:
        """Serialise concurrent requests about the same person (same NIR, identifier or names)."""
        if self._lock is None:
            return
        keys = [
            f"identite:{territoire}:{name_key(personne['nom'])}:{name_key(personne['prenom'])}:{personne['date_naissance']}"
        ]
        if personne.get("nir"):
            keys.append(f"nir:{territoire}:{personne['nir']}")
        for kind, value in self._identifiers(personne).items():
            keys.append(f"identifiant:{territoire}:{kind}:{value}")
        self._lock(self.session, *keys)

    def _resolve(self, personne: Mapping[str, Any], territoire: str) -> NotebookRow | None:
        """The notebook of this person, if there is exactly one; None if there is none.

        Within ``territoire`` only — a notebook is a département's, and a person known
        elsewhere is unknown here (a NIR and an identifier designate one notebook per
        territory): rules, in order, the NIR (13 characters); then a partner identifier
        (CAF/MSA organisme and matricule, France Travail identifier, département IS identifier
        within its département); then last name, first name and birth date, never a notebook
        whose NIR differs. Two persons are never merged silently: any doubt — several
        candidates, an identity that contradicts the one found — is the same 409
        (:class:`IdentificationFailed`), so that the answer tells nothing about which one it
        was.
        """
        nir = personne.get("nir")
        birth = personne["date_naissance"]
        candidates: dict[str, NotebookRow] = {}
        if nir:
            row = repository.by_nir(self.session, nir, territoire)
            if row is not None:
                if row.date_naissance.isoformat() != birth:
                    self._conflict(
                        row, "nir_date_naissance", "/personne/date_naissance", identifying=True
                    )
                candidates[row.id] = row
        ids = repository.ids_by_identifiers(self.session, self._identifiers(personne), territoire)
        for row in repository.rows_by_ids(self.session, ids - set(candidates)):
            if nir and row.nir13 and row.nir13 != nir:
                self._conflict(row, "identifiant_nir", "/personne/nir", identifying=True)
            # An identifier is a key, not a proof: the birth date must agree too.
            if row.date_naissance.isoformat() != birth:
                self._conflict(
                    row, "identifiant_date_naissance", "/personne/date_naissance", identifying=True
                )
            candidates[row.id] = row
        if not candidates:
            homonyms = repository.by_identity(
                self.session,
                territoire,
                name_key(personne["nom"]),
                name_key(personne["prenom"]),
                datetime.fromisoformat(birth).date(),
            )
            for row in homonyms:
                if not (nir and row.nir13 and row.nir13 != nir):
                    candidates[row.id] = row
        if len(candidates) > 1:
            # Recorded on one of them, like every failure that found a notebook: the failures
            # do the same work, so that their timing tells nothing either.
            self._conflict(
                next(iter(candidates.values())),
                "candidats_multiples",
                "/personne",
                identifying=True,
            )
        if not candidates:
            return None
        (row,) = candidates.values()
        return row

    def _failed(self) -> IdentificationFailed:
        """The answer of every failed identification, counted for the client."""
        error = IdentificationFailed()
        if self._throttle is not None:
            error.records.append(self._throttle.failure(self.guard))
        return error

    def _conflict(
        self,
        row: NotebookRow | StoredNotebook,
        reason: str,
        pointer: str,
        *,
        identifying: bool = False,
    ) -> None:
        """Refuse an identity that contradicts the notebook's, recorded for operators. While
        identifying, the answer is the one of every failure (:class:`IdentificationFailed`);
        a caller writing to a notebook within its need to know is told where."""
        error: ProblemError
        if identifying:
            error = self._failed()
        else:
            error = ConflictingIdentity(
                errors=[
                    {
                        "pointer": pointer,
                        "code": "identite_conflictuelle",
                        "message": "Cette donnée d'identité contredit celle d'un carnet existant.",
                    }
                ]
            )
        # Recorded for operators by the caller, outside the transaction this error rolls back.
        error.records.append(
            IdentityConflict(
                carnet_id=row.id,
                territoire=row.territoire,
                raison=reason,
                pointeur=pointer,
                client_id=self.principal.client_id,
                cree_le=_now(),
            )
        )
        raise error

    # -- contributions ---------------------------------------------------------------------------

    def contribute(
        self,
        carnet_id: str,
        body: bytes,
        if_match: int | None,
        *,
        with_view: bool = False,
    ) -> WriteResult:
        report = validated(self.validator, "contribution", body, self._known)
        recu_le = _now()
        contribution = _contribution(report, recu_le)
        self._check_nir(contribution)
        parts = self.guard.check_write(contribution, self.validator.referential, identifying=True)
        row = self._locked(carnet_id)
        if if_match is not None and if_match != row.version:
            raise StaleVersion(headers={"ETag": etag(row.version)})
        referent = self._referent(carnet_id, parts, with_view)
        self.guard.check_reserved(parts, referent)
        personne = contribution.get("personne")
        if personne and self._throttle is not None:
            # Identity in a contribution is checked against other notebooks too.
            self._throttle.check(self.session, self.guard)
        if personne:
            if personne.get("nir") and row.nir13 and personne["nir"] != row.nir13:
                self._conflict(row, "nir_different", "/personne/nir")
            if personne["date_naissance"] != row.date_naissance.isoformat():
                self._conflict(row, "date_naissance_differente", "/personne/date_naissance")
            self._identify_only(contribution)
        result = self._apply(row, contribution, recu_le, parts, created=False)
        result.referent = referent
        if with_view:
            self._with_view(result.row)
        result.warnings = report.warnings
        return result

    def _locked(self, carnet_id: str, *, discovery: bool = False) -> StoredNotebook:
        """The notebook locked for this transaction, with its state (from the cache of
        committed states when it holds this very version).

        Outside the caller's need to know, the notebook does not exist for it — unless it was
        found by ``discovery`` in the caller's territories: the caller identified the person,
        and may learn that the notebook exists (see :meth:`create_or_find`).
        """
        row = repository.by_id_for_update(self.session, carnet_id)
        if row is not None:
            role = repository.role_of(self.session, carnet_id, self.principal.organisation_id)
            row.membre = role is not None
            row.referent_structure = role == "referent"
        if row is None or not (
            (discovery and row.territoire in self.principal.territoires)
            or self.guard.may_touch(row.territoire, row.membre)
        ):
            error = NotebookNotFound()
            error.records.append(self.guard.refusal("ecriture", carnet_id))
            raise error
        self._load_state(row)
        return row

    def _load_state(self, row: StoredNotebook) -> None:
        cached = None if self._states is None else self._states.take(row.id, row.version)
        if cached is None:
            row.document = repository.document(self.session, row.id)
        else:
            row.document, row.rendered = cached

    # -- follow-up group -----------------------------------------------------------------------

    def record_group(
        self, carnet_id: str, members: list[followup.Member], *, journal: tuple[str, str]
    ) -> WriteResult:
        """Show the follow-up group as recorded (``members``, current and ended) in the
        notebook's ``accompagnement`` section, as the gateway's own items: the change is
        versioned, journaled as the caller's, and goes to the feed and the subscribers like
        any other, journaled as ``journal`` (action, outcome). The caller's access was decided
        before (see :mod:`gateway.followup`)."""
        row = repository.by_id_for_update(self.session, carnet_id)
        if row is None:
            raise NotebookNotFound()
        self._load_state(row)
        recu_le = _now()
        items: list[dict[str, Any]] = []
        for member in members:
            if member.row.jusqu_au is not None:
                items.append({"id": member.row.id, "supprime": True})
                continue
            organisation: dict[str, Any] = {"nom": member.nom}
            if member.siret:
                organisation["siret"] = member.siret
            items.append(
                {
                    "id": member.row.id,
                    "organisation": organisation,
                    "role": "referent"
                    if member.row.role == followup.REFERENT
                    else "accompagnateur",
                    "actif": True,
                    "debut": member.row.depuis.date().isoformat(),
                }
            )
        contribution = {"observe_le": _iso(recu_le), "accompagnement": {"groupe_suivi": items}}
        parts = {
            f"/accompagnement/groupe_suivi/{index}": "accompagnement" for index in range(len(items))
        }
        return self._apply(
            row, contribution, recu_le, parts, created=False, source=GATEWAY, journal=journal
        )

    def _keep_state(self, row: StoredNotebook) -> None:
        """Cache the state of ``row`` once its transaction has committed."""
        if self._states is None or self._on_commit is None:
            return
        states, carnet_id, version = self._states, row.id, row.version
        state, rendered = row.document, row.rendered
        self._on_commit(self.session, lambda: states.keep(carnet_id, version, state, rendered))

    def _with_view(self, row: StoredNotebook) -> None:
        """Set the whole view of ``row`` and its categories, for an answer."""
        if row.vue:
            return
        if row.rendered is None:
            row.vue, row.categories = repository.stored_view(self.session, row.id)
        else:
            row.vue, row.categories = row.rendered.json, row.rendered.categories

    def _apply(
        self,
        row: StoredNotebook,
        contribution: dict[str, Any],
        recu_le: datetime,
        parts: Mapping[str, str],
        *,
        created: bool,
        source: Source | None = None,
        journal: tuple[str, str] | None = None,
    ) -> WriteResult:
        """Merge ``contribution`` (whose ``parts`` are classified by category) into ``row``
        as the caller's (or ``source``'s) and record what changed. Writing never brings a
        notebook into the caller's need to know: only its creation does, for the actor kinds
        that follow persons by relationship."""
        categories = sorted(set(parts.values()))
        restamp = frozenset() if created or source else self._withheld_text(row, contribution)
        source = source or source_of(self.principal)
        state = row.document
        outcome = merge(state, contribution, source, _iso(recu_le), restamp=restamp)
        action, applied = journal or ("creation" if created else "ecriture", "applique")
        if not (outcome.changed or created):
            self._keep_state(row)
            repository.record_access(
                self.session, self.guard.entry(action, row.id, categories, "inchange")
            )
            return WriteResult(row=row, created=False, outcome=outcome)
        compact(state)
        previous = row.version
        row.version = previous + 1
        row.document = state
        row.modifie_le = recu_le
        identity = (row.nir13, row.nom_cle, row.prenom_cle)
        self._identity_columns(row, state)
        if row.nir13 != identity[0] and row.nir13 is not None:
            holder = repository.by_nir(self.session, row.nir13, row.territoire)
            if holder is not None and holder.id != row.id:
                # A NIR is one person's: held by another notebook of the territory.
                self._conflict(row, "nir_d_un_autre_carnet", "/personne/nir", identifying=True)
        before = row.rendered
        rendered = render(
            carnet_id=row.id,
            version=row.version,
            territoire=row.territoire,
            cree_le=row.cree_le,
            modifie_le=row.modifie_le,
            state=state,
            validator=self.validator,
            previous=before,
            changed=outcome.sections,
        )
        row.categories = rendered.categories
        row.rendered = rendered
        if created:
            repository.insert_notebook(self.session, row)
            if self.guard.actor.portee == "relation":
                followup.add_member(
                    self.session,
                    carnet_id=row.id,
                    organisation_id=self.principal.organisation_id,
                    role=followup.MEMBER,
                    base=followup.CREATION,
                    at=recu_le,
                    client_id=self.principal.client_id,
                )
        elif repository.save_version(
            self.session,
            row,
            previous,
            identity=(row.nir13, row.nom_cle, row.prenom_cle) != identity,
        ):
            repository.save_parts(self.session, row.id, state, rendered.fragments, outcome.sections)
            if before is None or rendered.libelles is not before.libelles:
                # Labels merged again (render keeps the previous ones when unchanged).
                repository.save_labels(self.session, row.id, rendered.libelles)
        else:
            raise StaleVersion()
        personne = contribution.get("personne") or {}
        taken = repository.add_identifiers(
            self.session, row.id, row.territoire, self._identifiers(personne)
        )
        if taken:
            # Another notebook of the territory holds it: the answer of every
            # failed identification, which tells nothing of that notebook.
            self._conflict(
                row,
                "identifiant_d_un_autre_carnet",
                f"/personne/identifiants/{taken[0]}",
                identifying=True,
            )
        self._keep_state(row)
        repository.record_access(
            self.session, self.guard.entry(action, row.id, categories, applied)
        )
        sections = sorted(outcome.sections | ({"personne"} if created else set()))
        changed_categories = touched(parts, outcome.appliques)
        repository.log_change(
            self.session,
            carnet_id=row.id,
            version=row.version,
            sections=sections,
            source=source.key,
            horodatage=recu_le,
            masque=category_mask(changed_categories),
            territoire=row.territoire,
        )
        outbox.enqueue(
            self.session,
            self.guard.matrix,
            carnet_id=row.id,
            territoire=row.territoire,
            version=row.version,
            sections=sections,
            categories=changed_categories,
            created=created,
            at=recu_le,
        )
        result = WriteResult(row=row, created=created, outcome=outcome)
        if "orientation" in outcome.sections and self.guard.steers(row.territoire):
            self._orientation(result, rendered.fragments["orientation"].value, recu_le)
        return result

    def _withheld_text(self, row: StoredNotebook, contribution: dict[str, Any]) -> frozenset[str]:
        """The orientation (a unit replaced whole) sent by a caller not served its free text:
        sent back as it was served (the other fields unchanged, no free text), it keeps its
        author's free text; sent with free text, it is recorded as the caller's even if that
        text is the one held (see :func:`merge`: no answer confirms a guess). The units to
        record so."""
        sent = contribution.get("orientation")
        unit = row.document["unites"].get("/orientation")
        if not isinstance(sent, dict) or unit is None:
            return frozenset()
        readable, _ = self.guard.served(False, row.referent_structure)
        author = resolve(row.document, unit["p"])["source"]
        if FREE_TEXT in readable or (self.guard.own is not None and author == self.guard.own):
            return frozenset()
        fields = FREE_TEXT_FIELDS["/orientation"]
        if any(name in sent for name in fields):
            return frozenset({"/orientation"})
        current = unit["v"]
        if {k: v for k, v in sent.items() if k not in fields} == {
            k: v for k, v in current.items() if k not in fields
        }:
            sent.update({name: current[name] for name in fields if name in current})
        return frozenset()

    def _orientation(self, result: WriteResult, orientation: Any, at: datetime) -> None:
        """An orientation decision recorded by the département that names a registered
        structure of the territory makes it the referent structure (basis ``orientation``);
        the follow-up group shown in the notebook follows (one more version, answered)."""
        siret = ((orientation or {}).get("structure") or {}).get("siret")
        organisation = siret and followup.organisation_by_siret(self.session, siret)
        if not organisation or not membership.may_join(
            self.session, self.guard.matrix, result.row.territoire, organisation.id
        ):
            return
        designation = membership.designate(
            self.session,
            carnet_id=result.row.id,
            organisation_id=organisation.id,
            role=followup.REFERENT,
            base=followup.ORIENTATION,
            at=at,
            client_id=self.principal.client_id,
        )
        if designation.created:
            members = followup.members(self.session, result.row.id, current_only=False)
            shown = self.record_group(
                result.row.id, members, journal=("groupe_suivi", "orientation")
            )
            result.row = shown.row

    @staticmethod
    def _identity_columns(row: StoredNotebook, state: Mapping[str, Any]) -> None:
        units = state["unites"]
        if "/personne/nir" in units:
            row.nir13 = units["/personne/nir"]["v"]
        if "/personne/nom" in units:
            row.nom_cle = name_key(units["/personne/nom"]["v"])
        if "/personne/prenom" in units:
            row.prenom_cle = name_key(units["/personne/prenom"]["v"])


def _matching_only(contribution: dict[str, Any]) -> None:
    """The identity fields that found a notebook only find it: they never overwrite what it
    holds (names are changed by a contribution, with the right to record identity)."""
    personne = contribution.get("personne") or {}
    for pointer in IDENTIFYING:
        personne.pop(pointer.rsplit("/", 1)[1], None)
    if not personne:
        contribution.pop("personne", None)


def etag(version: int) -> str:
    return f'"v{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version named by an If-Match header (``"v3"``), or None when absent or ``*``."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if text.startswith("v") and text[1:].isdigit():
        return int(text[1:])
    raise StaleVersion('En-tête If-Match illisible : attendu l\'ETag du carnet, par exemple "v3".')
