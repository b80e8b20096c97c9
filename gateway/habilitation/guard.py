"""The decisions for one caller and one request: need to know, categories, purpose."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.auth.principal import Principal
from gateway.errors import ProblemError
from gateway.habilitation.categories import ClassifiedSections, classified_sections
from gateway.habilitation.matrix import SANDBOX, SCOPE_PREFIX, ActorRights, Matrix, Right
from gateway.storage.tables import JournalEntry
from referential import Referential

#: The sections of contributions classified before, by content (shared by every write).
KEPT = ClassifiedSections(8 * 1024 * 1024)

PURPOSE_HEADER = "Finalite"
#: Identity fields sent to find or create a notebook (``identification`` right).
IDENTIFYING = ("/personne/nom", "/personne/prenom", "/personne/date_naissance", "/personne/nir")


class PurposeRequired(ProblemError):
    status = 400
    code = "finalite_requise"
    title = "Indiquez la finalité de l'accès (en-tête Finalite)."


class PurposeNotAllowed(ProblemError):
    status = 403
    code = "finalite_non_autorisee"
    title = "Cette finalité n'est pas ouverte à votre type d'acteur."


class InsufficientScope(ProblemError):
    status = 403
    code = "portee_insuffisante"
    title = "Le jeton ne porte pas le droit que demande cette opération."


class CategoryNotWritable(ProblemError):
    status = 403
    code = "ecriture_non_autorisee"
    title = "Votre type d'acteur ne peut pas enregistrer certaines de ces données ; rien n'a été appliqué."


class CategoryNotReadable(ProblemError):
    status = 403
    code = "lecture_non_autorisee"
    title = "Votre type d'acteur ne peut pas lire ce que cette opération rapporte."


class UnknownAgent(ProblemError):
    status = 403
    code = "agent_inconnu"
    title = "L'agent nommé (en-tête Agent) n'est pas un agent actif de votre organisation."


class Guard:
    """What one authenticated caller may do, for the purpose it states, through the agent it
    names (if any)."""

    def __init__(
        self,
        matrix: Matrix,
        principal: Principal,
        purpose: str | None,
        *,
        agent: str | None = None,
        agent_habilitations: frozenset[str] = frozenset(),
    ) -> None:
        self.matrix = matrix
        self.principal = principal
        #: The agent the call names (verified: an active agent of the caller's organisation),
        #: and the reserved categories it is habilitated for.
        self.agent = agent
        self.agent_habilitations = agent_habilitations
        #: The rights of the caller: its actor kind's, with its organisation's overrides,
        #: within its token's scopes.
        self.actor: ActorRights = matrix.effective(
            principal.type_acteur, principal.derogations, principal.scopes
        )
        if not self.actor.finalites:
            raise PurposeNotAllowed(
                "Aucune finalité n'ouvre l'accès aux carnets à votre type d'acteur."
            )
        if not purpose:
            raise PurposeRequired(
                errors=[
                    {
                        "parameter": PURPOSE_HEADER,
                        "code": "finalite_requise",
                        "message": "Finalités possibles : " + ", ".join(self.actor.finalites),
                    }
                ]
            )
        if purpose not in self.actor.finalites:
            raise PurposeNotAllowed(
                errors=[
                    {
                        "parameter": PURPOSE_HEADER,
                        "code": "finalite_non_autorisee",
                        "message": "Finalités possibles : " + ", ".join(self.actor.finalites),
                    }
                ]
            )
        self.purpose = purpose
        self._readable = matrix.readable(self.actor, purpose)
        #: The categories the caller would be served that the matrix reserves to the
        #: designated referent agent or to agents habilitated for them.
        self.reserved = self._readable & self.actor.reserve
        #: The caller's source, served the free text it wrote when the purpose serves free
        #: text (None otherwise).
        self.own = principal.source if matrix.serves_free_text(purpose) else None

    def require(self, *rights: Right) -> None:
        """403 ``insufficient_scope`` unless the token carries one of ``rights``."""
        if not any(SCOPE_PREFIX + r in self.principal.scopes for r in rights):
            scope = " ".join(SCOPE_PREFIX + r for r in rights)
            raise InsufficientScope(
                headers={
                    "WWW-Authenticate": f'Bearer realm="carnet", error="insufficient_scope", scope="{scope}"'
                }
            )

    def require_reading(self, category: str) -> None:
        """403 unless the caller may read ``category``: a synchronisation brings back the
        partner's diagnostic, which only who may read it asks for (CAF/MSA, which records RSA
        rights, may not)."""
        if not self.actor.may("lecture", category):
            raise CategoryNotReadable(
                errors=[
                    {
                        "code": "lecture_non_autorisee",
                        "categorie": category,
                        "message": f"Catégorie « {category} » : lecture non autorisée.",
                    }
                ]
            )

    # -- need to know ----------------------------------------------------------------------------

    def may_touch(self, territoire: str, linked: bool) -> bool:
        """May the caller read or write a notebook of ``territoire`` (``linked``: its
        organisation created it, contributed to it, or is active in its follow-up group)?"""
        if territoire not in self.principal.territoires:
            return False
        if self.actor.portee == "territoire":
            return True
        if self.actor.portee == "bac_a_sable":
            return territoire == SANDBOX
        return self.actor.portee == "relation" and linked

    def steers(self, territoire: str) -> bool:
        """Does the caller hold the territorial mission of steering the follow-up of the
        notebooks of ``territoire`` (the département: territorial scope and the right to record
        ``accompagnement``)? It designates the follow-up group and decides join requests."""
        return self.actor.steers and territoire in self.principal.territoires

    # -- categories ------------------------------------------------------------------------------

    def grants(self, referent: bool) -> frozenset[str]:
        """The reserved categories the caller's agent is served, and may record, on a
        notebook (``referent``: it is the notebook's designated referent agent)."""
        if self.agent is None:
            return frozenset()
        if referent:
            return self.actor.reserve
        return self.agent_habilitations & self.actor.reserve

    def referent_matters(self, categories: Iterable[str], with_view: bool) -> bool:
        """Would being the notebook's referent agent change what the caller may record of
        ``categories`` (or, ``with_view``, what it is served)? Only then is it looked up."""
        if self.agent is None:
            return False
        missing = self.actor.reserve - self.grants(False)
        return bool(missing) and (with_view or not missing.isdisjoint(categories))

    def served(
        self, referent: bool = False, referent_structure: bool = False
    ) -> tuple[frozenset[str], bytes]:
        """What the caller is served of a notebook, and the withheld categories as served
        (``masques``), with the reason of each (``referent``: the caller's agent is the
        notebook's referent agent; ``referent_structure``: its organisation is the notebook's
        referent structure, served every free text)."""
        denied = self.reserved - self.grants(referent)
        withheld = self.matrix.withheld_json(
            self.principal.type_acteur,
            self.principal.derogations,
            self.purpose,
            denied,
            referent_structure,
        )
        readable = self._readable
        if referent_structure:
            readable = self.matrix.readable(self.actor, self.purpose, referent_structure=True)
        return readable - denied, withheld

    @property
    def readable(self) -> frozenset[str]:
        """What the caller is served of any notebook (as a referent agent, a notebook may
        serve it more: :meth:`served`)."""
        return self.served()[0]

    def withheld(self) -> list[dict[str, str]]:
        denied = self.reserved - self.grants(False)
        return self.matrix.withheld(
            self.principal.type_acteur, self.principal.derogations, self.purpose, denied
        )

    def withheld_json(self) -> bytes:
        return self.served()[1]

    def check_reserved(self, parts: Mapping[str, str], referent: bool) -> None:
        """Refuse, per pointer, a write touching a category reserved to the referent agent
        that the caller's agent may not record on this notebook."""
        denied = self.actor.reserve - self.grants(referent)
        refused = [
            {
                "pointer": pointer,
                "code": "reserve_referent",
                "categorie": category,
                "message": (
                    f"Catégorie « {category} » : réservée à l'agent référent désigné ou aux "
                    "agents habilités (en-tête Agent)."
                ),
            }
            for pointer, category in parts.items()
            if category in denied
        ]
        if refused:
            raise CategoryNotWritable(errors=refused)

    def check_write(
        self,
        contribution: Mapping[str, Any],
        referential: Referential,
        *,
        identifying: bool = False,
    ) -> dict[str, str]:
        """The parts of a contribution with their categories (pointer → category); refuses it
        whole if one part is not writable.

        With ``identifying``, the identity fields that find the notebook need only the
        ``identification`` right.
        """
        refused = []
        parts: dict[str, str] = {}
        for section in classified_sections(contribution, referential, kept=KEPT):
            parts.update(section.parts)
            if self.actor.may_write_all(section.categories):
                continue
            for pointer, category in section.parts.items():
                if self.actor.may_write(category, pointer):
                    continue
                if (
                    identifying
                    and pointer in IDENTIFYING
                    and self.actor.may("identification", category)
                ):
                    continue
                refused.append(
                    {
                        "pointer": pointer,
                        "code": "ecriture_non_autorisee",
                        "categorie": category,
                        "message": f"Catégorie « {category} » : écriture non autorisée.",
                    }
                )
        if refused:
            raise CategoryNotWritable(errors=refused)
        return parts

    def may_record_identity(self) -> bool:
        return self.actor.may("ecriture", "identite") and "identite" not in self.actor.limites

    # -- journal ---------------------------------------------------------------------------------

    def entry(
        self, action: str, carnet_id: str | None, categories: list[str], resultat: str
    ) -> dict[str, Any]:
        """A journal entry (the columns of :class:`JournalEntry`): ids, codes and the time."""
        return {
            "horodatage": datetime.now(UTC),
            "client_id": self.principal.client_id,
            "organisation_id": self.principal.organisation_id,
            "type_acteur": self.principal.type_acteur,
            "carnet_id": carnet_id,
            "action": action,
            "categories": categories,
            "finalite": self.purpose,
            "resultat": resultat,
            "agent": self.agent,
        }

    def refusal(self, action: str, carnet_id: str | None) -> JournalEntry:
        """The journal entry of an access refused outside the need to know, to be stored after
        the request's transaction is rolled back."""
        return JournalEntry(**self.entry(action, carnet_id, [], "hors_besoin"))
