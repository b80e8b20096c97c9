"""The CAF/MSA connector through its interface: ``ingest`` over made-up files."""

from __future__ import annotations

import io
from typing import Any

import pytest

from connectors import Capability, IngestRecord
from connectors.caf_msa import CafMsaConnector, FluxInvalide
from connectors.caf_msa.mapping import departement
from connectors.caf_msa.settings import CafMsaSettings
from tests.connectors.caf_msa.flux import F, P, flux, sample

ETATS = {
    "0": "rsa_demande_en_attente",
    "1": "rsa_refuse",
    "2": "rsa_droit_ouvert_versable",
    "3": "rsa_droit_ouvert_et_suspendu",
    "4": "rsa_droit_ouvert_versement_suspendu",
    "5": "rsa_clos",
    "6": "rsa_clos_anterieur",
}
SUSPENSIONS = {
    "01": "caf_ressources_trop_elevees",
    "02": "caf_moins_25_sans_personne_charge",
    "03": "caf_activite_non_conforme",
    "04": "caf_titre_sejour_invalide",
    "05": "caf_rsa_inferieur_seuil",
    "06": "caf_declaration_ressource_non_fournie",
    "09": "caf_residence_non_conforme",
    "19": "caf_pas_isolement",
    "31": "caf_prestation_exclue",
    "34": "caf_regime_non_conforme",
    "35": "caf_demande_avantage_vieillesse_absent",
    "36": "caf_titre_sejour_absent",
    "44": "caf_hospitalisation",
    "70": "caf_action_non_engagee",
    "78": "caf_surface_ponderee_sup",
    "84": "caf_droit_eteint",
    "85": "caf_pas_allocataire",
    "97": "caf_beneficiaire_aah",
    "AB": "caf_allocataire_absent",
    "CV": "caf_attente_decision_pcg",
    "CZ": "caf_activite_anterieure_insuffisante",
    "DA": "caf_activite_anterieure_absente",
    "DB": "caf_etudiant_remuneration_insuffisante",
    "DC": "caf_activite_anterieure_non_conforme",
}
CLOTURES = {
    "PCG": "caf_decision_pcg",
    "ECH": "caf_echeance",
    "EFF": "caf_annulation_bascule_rmi",
    "MUT": "caf_mutation",
    "RGD": "caf_regroupement",
    "RFD": "caf_radie_fin_droit",
    "RAU": "caf_radie_autre_motif",
    "RST": "caf_radie_option_rsta",
    "RSO": "caf_radie_option_rso",
}


def ingest(data: bytes, **settings: Any) -> list[IngestRecord]:
    connector = CafMsaConnector(CafMsaSettings(**settings))
    return list(connector.ingest(io.BytesIO(data)))


def persons(records: list[IngestRecord]) -> list[IngestRecord]:
    return [r for r in records if r.kind in ("personne", "personne_rejetee")]


def rsa(record: IngestRecord) -> dict[str, Any]:
    assert record.kind == "personne", record
    assert record.payload is not None
    return record.payload["contribution"]["droits"]["rsa"]  # type: ignore[no-any-return]


def refused(data: bytes, **settings: Any) -> FluxInvalide:
    with pytest.raises(FluxInvalide) as caught:
        ingest(data, **settings)
    return caught.value


def test_capability_and_declaration() -> None:
    connector = CafMsaConnector.from_environment()
    assert connector.capabilities() == (Capability.INGEST,)
    assert (connector.type_acteur, connector.finalite) == ("caf_msa", "instruction_rsa")


@pytest.mark.parametrize("type_flux", ["M", "I"])
def test_nominal_sample_monthly_and_daily(type_flux: str) -> None:
    data = sample().replace(b"<TYPEFLUX>M<", f"<TYPEFLUX>{type_flux}<".encode())
    records = ingest(data)
    assert [r.kind for r in records] == [
        "fichier",
        "personne",
        "personne",
        "personne",
        "transmission",
    ]
    assert records[0].payload == {
        "type_flux": type_flux,
        "dtref": "2024-02-29",
        "dtcreaflux": "2024-03-04",
        "heucreaflux": "03:15:00",
        "ligne": 3,
    }
    first, second, third = (r.payload for r in records[1:4])
    assert first is not None
    assert second is not None
    assert third is not None
    assert first == {
        "foyer": 1,
        "personne": 1,
        "ligne": 14,
        "territoire": "26",
        "organisme": "caf",
        "numero_organisme": "999",
        "nir": "2900499999001",
        "date_naissance": "1990-04-15",
        "contribution": {
            "observe_le": "2024-02-29T00:00:00Z",
            "droits": {
                "rsa": {
                    "etat": "rsa_droit_ouvert_versement_suspendu",
                    "suspensions": [
                        {"motif": "caf_declaration_ressource_non_fournie", "depuis": "2024-02-01"}
                    ],
                    "soumis_droits_devoirs": True,
                }
            },
            "situation": {"sans_domicile_fixe": False},
        },
    }
    # Household facts on every member; the unknown "droits et devoirs" stays unknown.
    assert rsa(records[2])["etat"] == "rsa_droit_ouvert_versement_suspendu"
    assert "soumis_droits_devoirs" not in rsa(records[2])
    assert (second["foyer"], second["personne"], second["nir"]) == (1, 2, "1880999999002")
    assert third["organisme"] == "msa"
    assert rsa(records[3]) == {
        "etat": "rsa_clos",
        "suspensions": [],
        "motif_cloture": "caf_radie_fin_droit",
        "date_cloture": "2024-02-29",
        "soumis_droits_devoirs": False,
    }
    assert third["contribution"]["situation"] == {"sans_domicile_fixe": True}
    assert records[-1].payload == {
        "foyers_lus": 2,
        "foyers_annonces": 2,
        "foyers_annonces_anomalie": 0,
    }
    assert records[-1].notices == ()


@pytest.mark.parametrize(("code", "expected"), sorted(ETATS.items()))
def test_every_etat(code: str, expected: str) -> None:
    assert rsa(persons(ingest(flux(F(etat=code))))[0])["etat"] == expected


def test_unknown_etat_rejects_every_person_of_the_foyer() -> None:
    records = persons(ingest(flux(F(etat="9", persons=[P(), P(nir="1880999999002")]), F())))
    assert [r.kind for r in records] == ["personne_rejetee", "personne_rejetee", "personne"]
    assert records[0].notices[0].code == "code_inconnu"
    assert records[0].payload == {"foyer": 1, "personne": 1, "ligne": 14}


@pytest.mark.parametrize(("code", "expected"), sorted(SUSPENSIONS.items()))
def test_every_suspension_reason(code: str, expected: str) -> None:
    (record,) = persons(ingest(flux(F(etat="4", suspensions=[(code, "2024-02-01")]))))
    assert rsa(record)["suspensions"] == [{"motif": expected, "depuis": "2024-02-01"}]


def test_suspensions_all_kept_trimmed_and_unknown_left_out() -> None:
    (record,) = persons(
        ingest(
            flux(
                F(
                    etat="4",
                    suspensions=[
                        (" DC ", "2024-01-01"),
                        ("ZZ", "2024-01-15"),
                        ("06", "2024-02-01"),
                    ],
                )
            )
        )
    )
    assert rsa(record)["suspensions"] == [
        {"motif": "caf_activite_anterieure_non_conforme", "depuis": "2024-01-01"},
        {"motif": "caf_declaration_ressource_non_fournie", "depuis": "2024-02-01"},
    ]
    (notice,) = record.notices
    assert notice.code == "code_inconnu"
    assert notice.pointer.endswith("SuspensionVersement[2]/MOTISUSVERSRSA")


@pytest.mark.parametrize(("code", "expected"), sorted(CLOTURES.items()))
def test_every_closure_reason(code: str, expected: str) -> None:
    (record,) = persons(ingest(flux(F(etat="5", fin=(code, "2024-02-29")))))
    assert (rsa(record)["motif_cloture"], rsa(record)["date_cloture"]) == (expected, "2024-02-29")


def test_closure_of_the_previous_month_and_findroit_wins() -> None:
    (before,) = persons(ingest(flux(F(etat="6", fin_anterieur=("ECH", "2024-01-31")))))
    assert (rsa(before)["motif_cloture"], rsa(before)["date_cloture"]) == (
        "caf_echeance",
        "2024-01-31",
    )
    (both,) = persons(
        ingest(flux(F(etat="5", fin=("RFD", "2024-02-29"), fin_anterieur=("ECH", "2024-01-31"))))
    )
    assert (rsa(both)["motif_cloture"], rsa(both)["date_cloture"]) == (
        "caf_radie_fin_droit",
        "2024-02-29",
    )


def test_unknown_closure_reason_keeps_the_date_with_a_warning() -> None:
    (record,) = persons(ingest(flux(F(etat="5", fin=("XXX", "2024-02-29")))))
    assert "motif_cloture" not in rsa(record)
    assert rsa(record)["date_cloture"] == "2024-02-29"
    assert [n.code for n in record.notices] == ["code_inconnu"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("0", False), ("true", True), ("false", False), (None, None)],
)
def test_droits_et_devoirs(value: str | None, expected: bool | None) -> None:
    (record,) = persons(ingest(flux(F(persons=[P(soumis=value)]))))
    assert rsa(record).get("soumis_droits_devoirs") == expected


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("1", True), ("true", True)])
def test_sans_domicile_fixe(value: str, expected: bool) -> None:
    (record,) = persons(ingest(flux(F(sdf=value))))
    assert record.payload is not None
    assert record.payload["contribution"]["situation"] == {"sans_domicile_fixe": expected}


@pytest.mark.parametrize(
    "foyer", [F(sdf="2"), F(sdf="oui"), F(persons=[P(soumis="2")]), F(persons=[P(soumis="X")])]
)
def test_a_wrong_boolean_rejects_the_foyer(foyer: F) -> None:
    records = ingest(flux(foyer, F()))
    assert records[1].kind == "foyer_rejete"
    assert records[1].notices[0].code == "booleen_invalide"
    assert records[2].kind == "personne"


def test_nir_absent_15_characters_and_corsica() -> None:
    records = persons(
        ingest(
            flux(
                F(
                    persons=[
                        P(nir=None),
                        P(nir="290049999900161"),  # 15 characters, right key
                        P(nir="290049999900199"),  # wrong key
                        P(nir="1880599999002"[:5] + "2A" + "999002"),
                        P(nir="12AB"),
                    ]
                )
            )
        )
    )
    assert [r.kind for r in records] == [
        "personne_rejetee",
        "personne",
        "personne_rejetee",
        "personne",
        "personne_rejetee",
    ]
    assert [r.notices[0].code for r in records if r.kind == "personne_rejetee"] == [
        "nir_absent",
        "nir_cle_invalide",
        "nir_invalide",
    ]
    assert records[1].payload is not None
    assert records[1].payload["nir"] == "2900499999001"
    assert records[3].payload is not None
    assert records[3].payload["nir"] == "188052A999002"


@pytest.mark.parametrize(
    ("ideparte", "expected"),
    [
        ("026", "26"),
        ("052", "52"),
        ("02A", "2A"),
        ("2B", "2B"),
        ("971", "971"),
        (" 26 ", "26"),
        ("099", None),
        ("ABC", None),
    ],
)
def test_ideparte_normalised(ideparte: str, expected: str | None) -> None:
    assert departement(ideparte) == expected


@pytest.mark.parametrize("missing", ["administratives", "prestation"])
def test_foyer_without_a_required_block_is_rejected_the_others_go_on(missing: str) -> None:
    records = ingest(flux(F(**{missing: False}), F(persons=[P(nir="2921199999003")])))
    assert [r.kind for r in records] == ["fichier", "foyer_rejete", "personne", "transmission"]
    assert records[1].notices[0].code == "bloc_requis"
    assert records[1].payload == {"foyer": 1, "ligne": 8}


def test_count_mismatch_is_a_file_warning() -> None:
    records = ingest(flux(F(), announced=3))
    assert [n.code for n in records[-1].notices] == ["nombre_foyers_different"]


def test_zero_foyers() -> None:
    records = ingest(flux())
    assert [r.kind for r in records] == ["fichier", "transmission"]


def test_a_foyer_larger_than_the_read_blocks() -> None:
    members = [P(nir=f"29004999{index:05d}") for index in range(600)]
    data = flux(F(persons=members), F())
    assert len(data) > 256 * 1024
    for chunk in (1024, 4093, 65_536):
        records = ingest(data, lecture_octets=chunk)
        assert len(persons(records)) == 601


# -- broken envelopes --------------------------------------------------------------------------


def test_missing_identification() -> None:
    data = sample()
    start, end = data.index(b"  <IdentificationFlux>"), data.index(b"</IdentificationFlux>") + 22
    error = refused(data[:start] + data[end:])
    assert (error.raison, error.ligne) == ("identification_absente", 3)


def test_identification_not_first() -> None:
    data = sample()
    start, end = data.index(b"  <IdentificationFlux>"), data.index(b"</IdentificationFlux>") + 22
    block = data[start:end]
    rest = data[:start] + data[end:]
    cut = rest.index(b"  <TransmissionFlux>")
    assert refused(rest[:cut] + block + rest[cut:]).raison == "identification_absente"
    cut = data.index(b"  <TransmissionFlux>")
    assert refused(data[:cut] + block + data[cut:]).raison == "identification_non_premiere"


def test_missing_transmission() -> None:
    data = sample()
    start, end = data.index(b"  <TransmissionFlux>"), data.index(b"</TransmissionFlux>") + 20
    assert refused(data[:start] + data[end:]).raison == "transmission_absente"


def test_truncated_and_not_well_formed() -> None:
    data = sample()
    truncated = refused(data[: len(data) // 2])
    assert truncated.raison == "xml_mal_forme"
    assert truncated.ligne is not None
    assert truncated.ligne > 40
    bad = data.replace(b"<ETATDOSRSA>4</ETATDOSRSA>", b"<ETATDOSRSA>4</ETAT>")
    broken = refused(bad)
    assert broken.raison == "xml_mal_forme"
    at = bad.index(b"</ETAT>")
    line_start = bad.rindex(b"\n", 0, at) + 1
    assert (broken.ligne, broken.colonne) == (bad[:at].count(b"\n") + 1, at - line_start + 2)


def test_unexpected_elements_and_root() -> None:
    assert refused(sample().replace(b"Racine>", b"Autre>")).raison == "racine_inattendue"
    data = sample().replace(b"</Racine>", b"  <Autre/>\n</Racine>")
    assert refused(data).raison == "element_apres_transmission"


def test_bad_identification_fields() -> None:
    error = refused(flux(F(), dtref="2024-02-30"))
    assert (error.raison, error.ligne) == ("identification_invalide", 3)
    assert refused(flux(F(), type_flux="X")).raison == "identification_invalide"


# -- hostile files -----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Racine [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Racine><IdentificationFlux><TYPEFLUX>&lol9;</TYPEFLUX></IdentificationFlux></Racine>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Racine [<!ENTITY xxe SYSTEM "http://192.0.2.1/secret">]>
<Racine><IdentificationFlux><TYPEFLUX>&xxe;</TYPEFLUX></IdentificationFlux></Racine>
"""
XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE Racine [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Racine><IdentificationFlux><TYPEFLUX>&xxe;</TYPEFLUX></IdentificationFlux></Racine>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Racine SYSTEM "http://192.0.2.1/vrsb0801.dtd">
<Racine/>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, XXE_FILE, EXTERNAL_DTD])
def test_doctype_and_entities_are_refused(data: bytes) -> None:
    error = refused(data)
    assert error.raison == "dtd_interdite"
    assert error.ligne == 2
    assert "passwd" not in error.message
    assert "root" not in error.message


def test_depth_and_text_are_bounded() -> None:
    deep = (
        b"<Racine><IdentificationFlux>"
        + b"<a>" * 40
        + b"</a>" * 40
        + b"</IdentificationFlux></Racine>"
    )
    assert refused(deep).raison == "profondeur_excessive"
    big = flux(F()).replace(b"<NOM>EXEMPLE</NOM>", b"<NOM>" + b"A" * 10_000_000 + b"</NOM>", 1)
    error = refused(big)
    assert (error.raison, error.ligne) == ("texte_excessif", 16)


# -- encodings ---------------------------------------------------------------------------------


def test_declared_windows_1252_but_utf8_bytes_warns() -> None:
    data = flux(F(persons=[P(prenom="HÉLÈNE")])).decode("cp1252").encode("utf-8")
    records = ingest(data)
    assert "encodage_suspect" in [n.code for n in records[-1].notices]
    assert ingest(flux(F()))[-1].notices == ()


def test_no_declaration_with_windows_1252_bytes_is_refused_at_the_byte() -> None:
    data = flux(F()).replace(b' encoding="windows-1252"', b"")
    error = refused(data)
    assert error.raison == "xml_mal_forme"
    assert error.octet == data.index("É".encode("cp1252"))


def test_utf8_with_bom_and_declaration() -> None:
    data = b"\xef\xbb\xbf" + flux(F(), encoding="utf-8")
    records = ingest(data)
    assert [r.kind for r in records] == ["fichier", "personne", "transmission"]
    assert records[-1].notices == ()


def test_empty_file() -> None:
    assert refused(b"").raison == "fichier_vide"
