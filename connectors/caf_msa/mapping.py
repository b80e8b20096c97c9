"""From the flux's blocks to referential contributions, by code through the ``caf_msa``
crosswalk (the codes are carried by the referential entries, ``code_caf``); labels are never read.

Pure functions on one block at a time. Structural errors of a foyer (a required block or field
missing, a wrong type, a bad code of the foyer) reject the foyer; a person without a usable NIR
or whose right state is unknown is rejected alone; an unknown suspension or closure reason is
left out with a warning. Every finding has a stable code, a French message and the XPath of the
field: never a name, a NIR or a matricule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any
from xml.etree.ElementTree import Element

from connectors._interface import Notice
from connectors.caf_msa.parser import FluxInvalide
from referential import Referential
from referential._types import nir_key

VERSION_API = "vrsb0801"
_NIR = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}(?:[0-9]{2})?$")
_DIGITS = re.compile(r"^[0-9]+$")
_DEPARTEMENT = re.compile(r"^(?:0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")
_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})


class FoyerInvalide(Exception):
    def __init__(self, pointer: str, code: str, message: str) -> None:
        super().__init__(message)
        self.notice = Notice(pointer, code, message)


@dataclass(frozen=True, slots=True)
class Header:
    type_flux: str
    dtref: date
    dtcreaflux: date
    heucreaflux: time

    @property
    def observation(self) -> str:
        """The file's observation key: ``DTREF``, ties broken by creation date and time."""
        return (
            f"{self.dtref.isoformat()}|{self.dtcreaflux.isoformat()}|{self.heucreaflux.isoformat()}"
        )

    def to_wire(self) -> dict[str, str]:
        return {
            "type_flux": self.type_flux,
            "dtref": self.dtref.isoformat(),
            "dtcreaflux": self.dtcreaflux.isoformat(),
            "heucreaflux": self.heucreaflux.isoformat(),
        }


@dataclass(slots=True)
class Person:
    position: int
    ligne: int
    nir: str | None = None
    date_naissance: str | None = None
    soumis: bool | None = None
    contribution: dict[str, Any] | None = None
    rejet: Notice | None = None
    notices: list[Notice] = field(default_factory=list)


@dataclass(slots=True)
class Foyer:
    territoire: str | None
    fonorg: str | None
    numorg: str | None
    persons: list[Person] = field(default_factory=list)
    rejet: Notice | None = None


def _text(element: Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def _required(element: Element, path: str, base: str) -> str:
    value = _text(element, path)
    if value is None:
        raise FoyerInvalide(f"{base}/{path}", "champ_requis", f"{path} absent ou vide.")
    return value


def _date(value: str, pointer: str) -> date:
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad_date(pointer)
    except ValueError:
        return _bad_date(pointer)


def _bad_date(pointer: str) -> date:
    raise FoyerInvalide(pointer, "date_invalide", f"{pointer} : date attendue (AAAA-MM-JJ).")


def _boolean(value: str | None, pointer: str) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FoyerInvalide(pointer, "booleen_invalide", f"{pointer} : 0, 1, true ou false attendu.")


def header(block: Element, line: int) -> Header:
    """The file's identification; a missing or ill-typed field rejects the file."""
    try:
        type_flux = _required(block, "TYPEFLUX", "/Racine/IdentificationFlux")
        if type_flux not in ("M", "I"):
            raise FoyerInvalide(
                "/Racine/IdentificationFlux/TYPEFLUX",
                "code_inconnu",
                f"TYPEFLUX « {type_flux[:3]} » inconnu (M mensuel, I quotidien).",
            )
        dtref = _date(
            _required(block, "DTREF", "/Racine/IdentificationFlux"),
            "/Racine/IdentificationFlux/DTREF",
        )
        dtcreaflux = _date(
            _required(block, "DTCREAFLUX", "/Racine/IdentificationFlux"),
            "/Racine/IdentificationFlux/DTCREAFLUX",
        )
        raw_time = _required(block, "HEUCREAFLUX", "/Racine/IdentificationFlux")
        try:
            heucreaflux = time.fromisoformat(raw_time)
        except ValueError:
            raise FoyerInvalide(
                "/Racine/IdentificationFlux/HEUCREAFLUX",
                "heure_invalide",
                "HEUCREAFLUX : heure attendue (HH:MM:SS).",
            ) from None
    except FoyerInvalide as error:
        raise FluxInvalide("identification_invalide", error.notice.message, ligne=line) from None
    return Header(type_flux, dtref, dtcreaflux, heucreaflux)


def trailer(block: Element, line: int) -> tuple[int, int]:
    """The counts the producer announces (dossiers sent, sent with an anomaly)."""
    counts = []
    for name in ("NBTOTDOSRSATRANSM", "NBTOTDOSRSATRANSMANO"):
        value = _text(block, name)
        if value is None or not _DIGITS.fullmatch(value) or len(value) > 8:
            raise FluxInvalide("transmission_invalide", f"{name} absent ou non entier.", ligne=line)
        counts.append(int(value))
    return counts[0], counts[1]


def departement(ideparte: str) -> str | None:
    """``IDEPARTE`` as a département code: trimmed, one leading zero of a three-character
    metropolitan code removed ("052" → "52", "02A" → "2A", "971" stays)."""
    value = ideparte.strip().upper()
    if len(value) == 3 and value.startswith("0"):
        value = value[1:]
    return value if _DEPARTEMENT.fullmatch(value) else None


class Mapper:
    """Maps the foyers of one file (its header gives the observation date of every fact)."""

    def __init__(self, referential: Referential, head: Header) -> None:
        def table(name: str) -> dict[str, str]:
            xwalk = referential.crosswalk("caf_msa", name, VERSION_API)
            return {row.code_partenaire.strip(): str(row.code) for row in xwalk.lignes if row.code}

        self.etats = table("ETATDOSRSA")
        self.suspensions = table("MOTISUSVERSRSA")
        self.clotures = table("MOTICLORSA")
        self.organismes = table("FONORG")
        self.observe_le = f"{head.dtref.isoformat()}T00:00:00Z"

    def foyer(self, block: Element, line: int, lines: Sequence[int]) -> Foyer:
        """One foyer; ``lines`` the line of each of its ``Personne`` in order."""
        base = "/Racine/InfosFoyerRSA"
        result = Foyer(territoire=None, fonorg=None, numorg=None)
        try:
            ident = block.find("IdentificationRSA")
            if ident is None:
                raise FoyerInvalide(
                    f"{base}/IdentificationRSA", "bloc_requis", "IdentificationRSA absent."
                )
            fonorg = _required(ident, "Organisme/FONORG", f"{base}/IdentificationRSA")
            organisme = self.organismes.get(fonorg.upper())
            if organisme is None:
                raise FoyerInvalide(
                    f"{base}/IdentificationRSA/Organisme/FONORG",
                    "code_inconnu",
                    f"FONORG « {fonorg[:3]} » inconnu (CAF ou MSA).",
                )
            numorg = _required(ident, "Organisme/NUMORG", f"{base}/IdentificationRSA")
            matricule = _required(ident, "Organisme/MATRICULE", f"{base}/IdentificationRSA")
            if not _DIGITS.fullmatch(matricule) or len(matricule) > 15:
                raise FoyerInvalide(
                    f"{base}/IdentificationRSA/Organisme/MATRICULE",
                    "matricule_invalide",
                    "MATRICULE : jusqu'à 15 chiffres attendus.",
                )
            ideparte = _required(ident, "Partenaire/IDEPARTE", f"{base}/IdentificationRSA")
            territoire = departement(ideparte)
            if territoire is None:
                raise FoyerInvalide(
                    f"{base}/IdentificationRSA/Partenaire/IDEPARTE",
                    "departement_invalide",
                    "IDEPARTE n'est pas un code de département.",
                )
            result.territoire, result.fonorg, result.numorg = territoire, organisme, numorg
            for required in ("DonneesAdministratives", "PrestationRSA"):
                if block.find(required) is None:
                    raise FoyerInvalide(
                        f"{base}/{required}", "bloc_requis", f"{required} absent du foyer."
                    )
            persons = block.findall("Personne")
            if not persons:
                raise FoyerInvalide(f"{base}/Personne", "bloc_requis", "Aucune Personne.")
            rsa, notices, etat_code = self._rsa(block, f"{base}/PrestationRSA")
            sdf = _boolean(
                _required(
                    block,
                    "PrestationRSA/DetailDroitRSA/TroncCommunDroitRSA/TOPSANSDOMFIXE",
                    base,
                ),
                f"{base}/PrestationRSA/DetailDroitRSA/TroncCommunDroitRSA/TOPSANSDOMFIXE",
            )
            people = [
                self._person(element, index, lines[index - 1] if index <= len(lines) else line)
                for index, element in enumerate(persons, start=1)
            ]
        except FoyerInvalide as error:
            result.rejet = error.notice
            return result
        for person in people:
            if person.rejet is not None:
                result.persons.append(person)
                continue
            if rsa is None:
                person.rejet = Notice(
                    f"{base}/PrestationRSA/SituationDossierRSA/EtatDossierRSA/ETATDOSRSA",
                    "code_inconnu",
                    f"ETATDOSRSA « {etat_code[:3]} » inconnu.",
                )
                result.persons.append(person)
                continue
            droit = dict(rsa)
            if person.soumis is not None:
                droit["soumis_droits_devoirs"] = person.soumis
            person.contribution = {
                "observe_le": self.observe_le,
                "droits": {"rsa": droit},
                "situation": {"sans_domicile_fixe": sdf},
            }
            person.notices.extend(notices)
            result.persons.append(person)
        return result

    def _rsa(self, block: Element, base: str) -> tuple[dict[str, Any] | None, list[Notice], str]:
        situation = block.find("PrestationRSA/SituationDossierRSA")
        if situation is None:
            raise FoyerInvalide(
                f"{base}/SituationDossierRSA", "bloc_requis", "SituationDossierRSA absent."
            )
        base = f"{base}/SituationDossierRSA"
        etat_code = _required(situation, "EtatDossierRSA/ETATDOSRSA", base)
        notices: list[Notice] = []
        etat = self.etats.get(etat_code)
        suspensions: list[dict[str, str]] = []
        for index, item in enumerate(situation.findall("SuspensionVersement"), start=1):
            pointer = f"{base}/SuspensionVersement[{index}]"
            motif = _required(item, "MOTISUSVERSRSA", pointer)
            depuis = _date(_required(item, "DDSUSVERSRSA", pointer), f"{pointer}/DDSUSVERSRSA")
            code = self.suspensions.get(motif)
            if code is None:
                notices.append(
                    Notice(
                        f"{pointer}/MOTISUSVERSRSA",
                        "code_inconnu",
                        f"MOTISUSVERSRSA « {motif[:3]} » inconnu : suspension non reprise.",
                    )
                )
                continue
            suspensions.append({"motif": code, "depuis": depuis.isoformat()})
        rsa: dict[str, Any] = {"etat": etat, "suspensions": suspensions}
        # FinDroit wins over FinDroitMoisAnterieur.
        for name in ("FinDroit", "FinDroitMoisAnterieur"):
            fin = situation.find(name)
            if fin is None:
                continue
            pointer = f"{base}/{name}"
            motif = _required(fin, "MOTICLORSA", pointer)
            rsa["date_cloture"] = _date(
                _required(fin, "DTCLORSA", pointer), f"{pointer}/DTCLORSA"
            ).isoformat()
            code = self.clotures.get(motif)
            if code is None:
                notices.append(
                    Notice(
                        f"{pointer}/MOTICLORSA",
                        "code_inconnu",
                        f"MOTICLORSA « {motif[:3]} » inconnu : motif de clôture non repris.",
                    )
                )
            else:
                rsa["motif_cloture"] = code
            break
        return (rsa if etat is not None else None), notices, etat_code

    def _person(self, element: Element, index: int, line: int) -> Person:
        base = f"/Racine/InfosFoyerRSA/Personne[{index}]"
        person = Person(position=index, ligne=line)
        ident = element.find("Identification")
        if ident is None:
            raise FoyerInvalide(f"{base}/Identification", "bloc_requis", "Identification absent.")
        naissance = _date(
            _required(ident, "DTNAI", f"{base}/Identification"), f"{base}/Identification/DTNAI"
        )
        person.date_naissance = naissance.isoformat()
        soumis = _boolean(
            _text(element, "MontantCalculDroitRSAPersonne/TOPPERSDRODEVORSA"),
            f"{base}/MontantCalculDroitRSAPersonne/TOPPERSDRODEVORSA",
        )
        nir = _text(ident, "NIR")
        pointer = f"{base}/Identification/NIR"
        if nir is None:
            person.rejet = Notice(pointer, "nir_absent", "NIR absent : personne non rapprochée.")
        elif not _NIR.fullmatch(nir.upper()):
            person.rejet = Notice(pointer, "nir_invalide", "NIR mal formé (13 ou 15 caractères).")
        elif len(nir) == 15 and nir_key(nir[:13].upper()) != int(nir[13:]):
            person.rejet = Notice(
                pointer, "nir_cle_invalide", "La clé de contrôle du NIR est invalide."
            )
        else:
            person.nir = nir[:13].upper()
        person.soumis = soumis
        return person
