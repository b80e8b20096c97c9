"""One adapter per API generation: how to find the person, read the dossier, and turn it into
the generation-neutral diagnostic the mapping reads.

- v4 (current): ``rechercher-usager/v2`` by NIR and birth date → ``jetonUsager``; the aggregated
  dossier ``diagnosticargumente/v4/dossiers`` with ``ft-jeton-usager`` and the ``pa-*`` headers;
  realm ``/agent``.
- v1: ``rechercher-usager/v1`` → ``identifiant``; ``diagnosticargumente/v1/individus/{id}``;
  realm ``/partenaire``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from connectors import (
    Agent,
    PullOutcome,
    UpstreamConfiguration,
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
)
from connectors.france_travail import wire
from connectors.france_travail.client import AGENT, PARTENAIRE, FranceTravailClient, json_object
from connectors.france_travail.mapping import Diagnostic, Entry, Theme

FOUND, NOT_FOUND, SEVERAL = "S001", "S002", "S003"
REJECTED = frozenset({"R997"})
REFUSED = frozenset({"R001", "R002"})


@dataclass(frozen=True, slots=True)
class Search:
    """The outcome of a search; ``handle`` (jeton or identifier) when the person is found."""

    outcome: PullOutcome
    handle: str | None = None


def validated(model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        where = ".".join(str(part) for part in error.errors()[0]["loc"])
        raise UpstreamMalformed(f"{what} : champ « {where} » inattendu.") from None


def read_search(response: httpx.Response) -> Search:
    """The outcome codes of both generations (connectors.md §1.5): found only when certified."""
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        raise UpstreamConfiguration("FT redirige la recherche : en-têtes pa-* absents ?")
    if status == 401:
        raise UpstreamConfiguration("FT refuse l'appel (401) : jeton ou en-têtes pa-* vides.")
    data = json_object(response)
    code = data.get("codeRetour")
    if code in REJECTED:
        raise UpstreamRejected(f"FT rejette la recherche ({code}) : NIR ou date mal formés.")
    if code in REFUSED or status == 403:
        raise UpstreamRefused(f"FT refuse l'accès ({code or status}) : abonnement ou habilitation.")
    if status not in (200, 206):
        raise UpstreamMalformed(f"Recherche FT : réponse {status} inattendue.")
    found: wire.Recherche = validated(wire.Recherche, data, "Recherche FT")
    if found.codeRetour == NOT_FOUND:
        return Search(PullOutcome.NOT_FOUND)
    if found.codeRetour == SEVERAL:
        return Search(PullOutcome.AMBIGUOUS)
    if found.codeRetour != FOUND:
        raise UpstreamMalformed(f"Recherche FT : code retour « {found.codeRetour} » inconnu.")
    if found.topIdentiteCertifiee != "O":
        return Search(PullOutcome.UNCERTIFIED)
    handle = found.jetonUsager or found.identifiant
    if not handle:
        return Search(PullOutcome.NOT_FOUND)
    return Search(PullOutcome.DOSSIER, handle)


def dossier_body(response: httpx.Response) -> bytes | None:
    """The dossier's bytes, or None when FT holds none (204, an empty body)."""
    status = response.status_code
    if status in (301, 302, 303, 307, 308) or status == 401:
        raise UpstreamConfiguration(f"FT refuse la lecture du dossier ({status}).")
    if status == 403:
        raise UpstreamRefused("FT refuse l'accès au dossier (403).")
    if status == 204 or (status in (200, 206) and not response.content.strip()):
        return None
    if status not in (200, 206):
        raise UpstreamMalformed(f"Dossier FT : réponse {status} inattendue.")
    return response.content


def _entries(items: list[wire.Item] | None, pointer: str) -> tuple[Entry, ...]:
    return tuple(
        Entry(f"{pointer}/{index}", item.code, item.valeur, item.dateExploration)
        for index, item in enumerate(items or ())
    )


def _theme(contrainte: wire.Contrainte, pointer: str) -> Theme:
    return Theme(
        pointer=pointer,
        code=contrainte.code,
        valeur=contrainte.valeur,
        date=contrainte.dateExploration or contrainte.date,
        situations=_entries(contrainte.situations, pointer + "/situations"),
        objectifs=_entries(contrainte.objectifs, pointer + "/objectifs"),
    )


class Generation(Protocol):
    version_api: ClassVar[str]
    realm: ClassVar[str]

    async def search(self, nir13: str, birth: date, agent: Agent) -> Search: ...

    async def dossier(self, handle: str, agent: Agent) -> bytes | None: ...

    def diagnostic(self, data: dict[str, Any]) -> tuple[Diagnostic, int]: ...


def header_value(text: str) -> str:
    """``text`` as an HTTP header value FT accepts: accents folded to ASCII (« Lefèvre » →
    « Lefevre »), other non-ASCII and control characters dropped (never a line break)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    kept = "".join(char for char in folded if char.isprintable()).strip()
    return kept or "-"


def _agent_headers(agent: Agent) -> dict[str, str]:
    return {
        "pa-identifiant-agent": header_value(agent.identifiant),
        "pa-nom-agent": header_value(agent.nom),
        "pa-prenom-agent": header_value(agent.prenom),
    }


class _Generation:
    """What both generations share: the client, the scopes, and how their calls are sent."""

    version_api: ClassVar[str]
    realm: ClassVar[str]

    def __init__(self, client: FranceTravailClient, scopes: frozenset[str]) -> None:
        self.client = client
        self.scopes = scopes

    async def _search(self, path: str, payload: dict[str, str], headers: dict[str, str]) -> Search:
        response = await self.client.call(
            "POST", path, realm=self.realm, scopes=self.scopes, headers=headers, json=payload
        )
        return read_search(response)

    async def _dossier(self, path: str, headers: dict[str, str]) -> bytes | None:
        response = await self.client.call(
            "GET", path, realm=self.realm, scopes=self.scopes, headers=headers
        )
        return dossier_body(response)


class V4(_Generation):
    version_api: ClassVar[str] = "diagnostic_v4"
    realm: ClassVar[str] = AGENT

    async def search(self, nir13: str, birth: date, agent: Agent) -> Search:
        return await self._search(
            "/partenaire/rechercher-usager/v2/usagers/par-datenaissance-et-nir",
            {"dateNaissance": birth.isoformat(), "nir": nir13},
            _agent_headers(agent),
        )

    async def search_by_number(self, number: str, agent: Agent) -> Search:
        """The person by their France Travail number (only this generation has it)."""
        return await self._search(
            "/partenaire/rechercher-usager/v2/usagers/par-numero-francetravail",
            {"numeroFranceTravail": number},
            _agent_headers(agent),
        )

    async def dossier(self, handle: str, agent: Agent) -> bytes | None:
        return await self._dossier(
            "/partenaire/diagnosticargumente/v4/dossiers",
            {**_agent_headers(agent), "ft-jeton-usager": handle},
        )

    def diagnostic(self, data: dict[str, Any]) -> tuple[Diagnostic, int]:
        dossier: wire.DossierV4 = validated(wire.DossierV4, data, "Dossier FT v4")
        family = dossier.thematiqueContrainte or wire.ThematiqueContrainte()
        themes = [
            _theme(c, f"/thematiqueContrainte/contraintes/{i}")
            for i, c in enumerate(family.contraintes or ())
        ]
        numerique = dossier.autonomieNumerique
        if numerique is not None and numerique.contrainte is not None:
            themes.append(_theme(numerique.contrainte, "/autonomieNumerique/contrainte"))
        declared = family.declareSansContrainte
        flagged = declared is not None and declared.flag is True
        diagnostic = Diagnostic(
            version_api=self.version_api,
            themes=tuple(themes),
            date=family.dateExploration,
            sans_contrainte=declared.date if flagged and declared is not None else None,
            declared_without_date=flagged and (declared is None or not declared.date),
        )
        return diagnostic, dossier.unknown_fields()


class V1(_Generation):
    version_api: ClassVar[str] = "diagnostic_v1"
    realm: ClassVar[str] = PARTENAIRE

    async def search(self, nir13: str, birth: date, agent: Agent) -> Search:
        return await self._search(
            "/partenaire/rechercher-usager/v1/usagers/recherche",
            {"nir": nir13, "dateNaissance": birth.isoformat()},
            {},
        )

    async def dossier(self, handle: str, agent: Agent) -> bytes | None:
        return await self._dossier(
            f"/partenaire/diagnosticargumente/v1/individus/{quote(handle, safe='')}", {}
        )

    def diagnostic(self, data: dict[str, Any]) -> tuple[Diagnostic, int]:
        dossier: wire.DossierV1 = validated(wire.DossierV1, data, "Dossier FT v1")
        family = dossier.contraintesIndividusDto or wire.ContraintesV1()
        themes = tuple(
            _theme(c, f"/contraintesIndividusDto/contraintes/{i}")
            for i, c in enumerate(family.contraintes or ())
        )
        diagnostic = Diagnostic(
            version_api=self.version_api, themes=themes, date=family.dateDeModification
        )
        return diagnostic, dossier.unknown_fields()
