"""Per-organisation overrides of the matrix (R. 263-4): grants and restrictions, each recorded
with who decided it and why; the organisation row carries the active ones, so that every request
reads them with the caller's client, in the same query."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.habilitation.matrix import Matrix
from gateway.storage import Session
from gateway.storage import organisations as repository
from gateway.storage.tables import Organisation, Override


def decide(
    session: Session,
    matrix: Matrix,
    *,
    organisation_id: str,
    categorie: str,
    droit: str,
    effet: str,
    motif: str,
    auteur: str,
    garanties: str | None = None,
) -> Override:
    """Grant (``accorde``) or restrict (``retire``) one right of one category for one
    organisation; it replaces the organisation's previous decision on that right."""
    matrix.check_override(categorie, droit, effet, garanties)
    if not motif.strip() or not auteur.strip():
        raise ValueError("une dérogation porte son motif et son auteur")
    organisation = repository.organisation(session, organisation_id)
    if organisation is None:
        raise ValueError(f"organisation inconnue « {organisation_id} »")
    _lift(session, organisation_id, categorie, droit)
    decision = Override(
        organisation_id=organisation_id,
        categorie=categorie,
        droit=droit,
        effet=effet,
        motif=motif.strip(),
        auteur=auteur.strip(),
        garanties=(garanties or "").strip() or None,
        actif=True,
        cree_le=datetime.now(UTC),
    )
    repository.save(session, decision)
    _refresh(session, organisation)
    return decision


def lift(session: Session, *, organisation_id: str, categorie: str, droit: str) -> None:
    """Back to the matrix for this right (the decision stays in the history)."""
    organisation = repository.organisation(session, organisation_id)
    if organisation is None:
        raise ValueError(f"organisation inconnue « {organisation_id} »")
    if not _lift(session, organisation_id, categorie, droit):
        raise ValueError("aucune dérogation active pour ce droit")
    _refresh(session, organisation)


def history(session: Session, organisation_id: str) -> list[Override]:
    return repository.overrides_of(session, organisation_id)


def _lift(session: Session, organisation_id: str, categorie: str, droit: str) -> bool:
    lifted = False
    for decision in repository.active_overrides(session, organisation_id, categorie, droit):
        decision.actif = False
        decision.leve_le = datetime.now(UTC)
        repository.save(session, decision)
        lifted = True
    return lifted


def _refresh(session: Session, organisation: Organisation) -> None:
    active = [d for d in history(session, organisation.id) if d.actif]
    organisation.derogations = sorted([d.categorie, d.droit, d.effet] for d in active)
    repository.save(session, organisation)
