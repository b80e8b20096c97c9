"""A made-up second version of the referential, 2026.2, written from a copy of the packaged data.

What changes from 2026.1 to 2026.2 (every case of the crosswalk between versions):

- rename: the situation ``logement.heberge_chez_tiers`` is deprecated, replaced by the new
  ``logement.heberge_par_un_tiers``;
- merge: the situations ``mobilite.vehicule_voiture_moto_scooter`` and
  ``mobilite.vehicule_sans_permis`` are deprecated, both replaced by the new
  ``mobilite.vehicule_motorise``;
- split: the situation ``mobilite.permis_code_cours`` is deprecated (still published), replaced
  by the new ``mobilite.permis_en_cours`` and ``mobilite.code_en_cours``;
- split and retired at once: the situation ``logement.hebergement_collectif`` is no longer
  published, replaced by the new ``logement.hebergement_urgence`` and
  ``logement.hebergement_insertion``;
- retired without replacement: the situation ``logement.territoire_rural_isole``;
- renamed and retired at once: the action status ``en_attente`` becomes ``suspendue``.
"""

import shutil
from pathlib import Path

import yaml

import referential

DATA_DIR = Path(referential.__file__).parent / "data"
V1, V2 = "2026.1", "2026.2"

RENAMED = ("logement.heberge_chez_tiers", "logement.heberge_par_un_tiers")
MERGED = (
    ("mobilite.vehicule_voiture_moto_scooter", "mobilite.vehicule_sans_permis"),
    "mobilite.vehicule_motorise",
)
SPLIT = ("mobilite.permis_code_cours", ("mobilite.permis_en_cours", "mobilite.code_en_cours"))
SPLIT_RETIRED = (
    "logement.hebergement_collectif",
    ("logement.hebergement_urgence", "logement.hebergement_insertion"),
)
RETIRED = "logement.territoire_rural_isole"
STATUS_RENAMED = ("en_attente", "suspendue")

#: Every change of the made-up 2026.2, as GET /v1/referentiel/diff?de=2026.1&a=2026.2 gives it.
EXPECTED_DIFF = {
    "de": V1,
    "a": V2,
    "ajoutes": [
        {"liste": "situations", "code": RENAMED[1], "libelle": "Hébergé par un tiers"},
        {"liste": "situations", "code": SPLIT_RETIRED[1][1], "libelle": "Hébergement d'insertion"},
        {"liste": "situations", "code": SPLIT_RETIRED[1][0], "libelle": "Hébergement d'urgence"},
        {"liste": "situations", "code": SPLIT[1][1], "libelle": "Code de la route en cours"},
        {"liste": "situations", "code": SPLIT[1][0], "libelle": "Permis en cours"},
        {"liste": "situations", "code": MERGED[1], "libelle": "Dispose d'un véhicule motorisé"},
        {"liste": "statuts_action", "code": STATUS_RENAMED[1], "libelle": "Suspendue"},
    ],
    "renommes": [
        {"liste": "situations", "code": RENAMED[0], "remplace_par": RENAMED[1]},
        {"liste": "statuts_action", "code": STATUS_RENAMED[0], "remplace_par": STATUS_RENAMED[1]},
    ],
    "fusionnes": [
        {"liste": "situations", "codes": sorted(MERGED[0]), "remplace_par": MERGED[1]},
    ],
    "scindes": [
        {"liste": "situations", "code": SPLIT_RETIRED[0], "remplace_par": list(SPLIT_RETIRED[1])},
        {"liste": "situations", "code": SPLIT[0], "remplace_par": list(SPLIT[1])},
    ],
    "deprecies": [
        {
            "liste": "situations",
            "code": RENAMED[0],
            "libelle": "Hébergé chez un tiers",
            "remplace_par": [RENAMED[1]],
        },
        {
            "liste": "situations",
            "code": SPLIT[0],
            "libelle": "Permis et/ou code en cours",
            "remplace_par": list(SPLIT[1]),
        },
        {
            "liste": "situations",
            "code": MERGED[0][1],
            "libelle": "Véhicule sans permis",
            "remplace_par": [MERGED[1]],
        },
        {
            "liste": "situations",
            "code": MERGED[0][0],
            "libelle": "Véhicule (voiture, moto, scooter)",
            "remplace_par": [MERGED[1]],
        },
    ],
    "retires": [
        {
            "liste": "situations",
            "code": SPLIT_RETIRED[0],
            "libelle": "Hébergement collectif de type CHRS, CHU, CPH, CADA, …",
            "remplace_par": list(SPLIT_RETIRED[1]),
        },
        {"liste": "situations", "code": RETIRED, "libelle": "Territoire rural isolé"},
        {
            "liste": "statuts_action",
            "code": STATUS_RENAMED[0],
            "libelle": "En attente",
            "remplace_par": [STATUS_RENAMED[1]],
        },
    ],
}


def read_yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_yaml(path, document):
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _edit(path, changes, added):
    document = read_yaml(path)
    for entry in document["entrees"]:
        entry.update(changes.get(entry["code"], {}))
    document["entrees"].extend(added)
    write_yaml(path, document)


def _situation(code, libelle):
    return {
        "code": code,
        "libelle": libelle,
        "theme": code.split(".")[0],
        "categorie": "situation",
        "introduit_en": V2,
    }


def write_second_version(target: Path, *, first_status: str = "supportee") -> Path:
    """A copy of the data in ``target`` with 2026.2 current and 2026.1 ``first_status``."""
    shutil.copytree(DATA_DIR, target)
    meta = read_yaml(target / "referentiel.yaml")
    meta["versions"][0]["statut"] = first_status
    meta["versions"][0]["fin_support"] = "2027-12-31"
    meta["versions"].append(
        {"version": V2, "publiee_le": "2027-06-01", "statut": "courante", "notes": "Essai."}
    )
    meta["courante"] = V2
    write_yaml(target / "referentiel.yaml", meta)
    deprecated = {"deprecie_en": V2}
    _edit(
        target / "situations.yaml",
        {
            RENAMED[0]: {**deprecated, "remplace_par": [RENAMED[1]]},
            MERGED[0][0]: {**deprecated, "remplace_par": [MERGED[1]]},
            MERGED[0][1]: {**deprecated, "remplace_par": [MERGED[1]]},
            SPLIT[0]: {**deprecated, "remplace_par": list(SPLIT[1])},
            SPLIT_RETIRED[0]: {"retire_en": V2, "remplace_par": list(SPLIT_RETIRED[1])},
            RETIRED: {"retire_en": V2},
        },
        [
            _situation(RENAMED[1], "Hébergé par un tiers"),
            _situation(MERGED[1], "Dispose d'un véhicule motorisé"),
            _situation(SPLIT[1][0], "Permis en cours"),
            _situation(SPLIT[1][1], "Code de la route en cours"),
            _situation(SPLIT_RETIRED[1][0], "Hébergement d'urgence"),
            _situation(SPLIT_RETIRED[1][1], "Hébergement d'insertion"),
        ],
    )
    _edit(
        target / "enumerations" / "statuts_action.yaml",
        {STATUS_RENAMED[0]: {"retire_en": V2, "remplace_par": [STATUS_RENAMED[1]]}},
        [
            {
                "code": STATUS_RENAMED[1],
                "libelle": "Suspendue",
                "categorie": "parcours",
                "introduit_en": V2,
            }
        ],
    )
    return target


def second_version(tmp_path, **options) -> referential.Referential:
    return referential.load_referential(write_second_version(tmp_path / "data", **options))
