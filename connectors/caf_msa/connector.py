"""The CAF/MSA connector: the ``ingest`` capability over the RSA flux ``vrsb0801``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from connectors._interface import Connector, IngestRecord, Notice
from connectors.caf_msa.mapping import Header, Mapper, header, trailer
from connectors.caf_msa.parser import FluxInvalide, FluxReader
from connectors.caf_msa.settings import CafMsaSettings
from referential import Referential, current_referential

#: Record kinds, in the order they come.
FILE = "fichier"
PERSON = "personne"
PERSON_REJECTED = "personne_rejetee"
FOYER_REJECTED = "foyer_rejete"
TRAILER = "transmission"


class CafMsaConnector(Connector):
    """Reads a CAF or MSA RSA file, streamed, and yields one record per person of each foyer.

    Records, in order: ``fichier`` (the identification: ``type_flux``, ``dtref``, ``dtcreaflux``,
    ``heucreaflux``); for each foyer, either one ``foyer_rejete`` or, for each of its persons,
    ``personne`` (the contribution, observed at ``DTREF``, with the person's 13-character NIR and
    birth date to match them and the foyer's département) or ``personne_rejetee``; last
    ``transmission`` (foyers read and announced, file-level warnings). Every record's payload
    holds its position: ``foyer`` (1-based), ``personne`` (1-based in the foyer), ``ligne``.
    A broken envelope raises :class:`FluxInvalide` (possibly after records were yielded: a
    caller applies nothing before it has read the file to its end).
    """

    slug = "caf_msa"
    version = "1.0.0"
    description = "Flux RSA des CAF et de la MSA (vrsb0801) : état du droit, suspensions, clôture, droits et devoirs, sans domicile fixe."
    settings_model = CafMsaSettings
    type_acteur = "caf_msa"
    finalite = "instruction_rsa"

    def __init__(self, settings: CafMsaSettings, referential: Referential | None = None) -> None:
        super().__init__(settings)
        self.settings: CafMsaSettings = settings
        self.referential = referential or current_referential()

    def ingest(self, stream: BinaryIO) -> Iterator[IngestRecord]:
        reader = FluxReader(
            stream,
            max_depth=self.settings.profondeur_max,
            max_text=self.settings.texte_max,
            chunk=self.settings.lecture_octets,
        )
        mapper: Mapper | None = None
        head: Header | None = None
        foyers = 0
        announced: tuple[int, int] | None = None
        for block in reader:
            if block.kind == "entete":
                head = header(block.element, block.ligne)
                mapper = Mapper(self.referential, head)
                yield IngestRecord(0, FILE, {**head.to_wire(), "ligne": block.ligne})
            elif block.kind == "foyer":
                assert mapper is not None
                foyers += 1
                foyer = mapper.foyer(block.element, block.ligne, block.lignes_personnes)
                block.element.clear()
                where = {"foyer": foyers, "ligne": block.ligne}
                if foyer.rejet is not None:
                    yield IngestRecord(foyers, FOYER_REJECTED, where, (foyer.rejet,))
                    continue
                for person in foyer.persons:
                    located = {"foyer": foyers, "personne": person.position, "ligne": person.ligne}
                    if person.rejet is not None:
                        yield IngestRecord(foyers, PERSON_REJECTED, located, (person.rejet,))
                        continue
                    yield IngestRecord(
                        foyers,
                        PERSON,
                        {
                            **located,
                            "territoire": foyer.territoire,
                            "organisme": foyer.fonorg,
                            "numero_organisme": foyer.numorg,
                            "nir": person.nir,
                            "date_naissance": person.date_naissance,
                            "contribution": person.contribution,
                        },
                        tuple(person.notices),
                    )
            else:
                announced = trailer(block.element, block.ligne)
        if head is None or announced is None:  # pragma: no cover - the reader checks both
            raise FluxInvalide("enveloppe_invalide", "Enveloppe du fichier incomplète.")
        notices = [Notice("/Racine", code, message) for code, message in reader.warnings]
        if announced[0] != foyers:
            notices.append(
                Notice(
                    "/Racine/TransmissionFlux/NBTOTDOSRSATRANSM",
                    "nombre_foyers_different",
                    f"{announced[0]} foyer(s) annoncé(s), {foyers} lu(s).",
                )
            )
        yield IngestRecord(
            foyers + 1,
            TRAILER,
            {
                "foyers_lus": foyers,
                "foyers_annonces": announced[0],
                "foyers_annonces_anomalie": announced[1],
            },
            tuple(notices),
        )
