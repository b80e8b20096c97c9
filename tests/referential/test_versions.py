"""Referential versions: a payload declares the version of its codes; the codes of an older,
supported version are translated into the current one through the crosswalk between versions
(deprecated → replacement), a version past its end of support is refused.

The second version is made up (tests/referential/versions.py): renames, a merge, splits and
retired codes.
"""

import json

import pytest

import referential
from tests.referential.versions import (
    EXPECTED_DIFF,
    MERGED,
    RENAMED,
    RETIRED,
    SPLIT,
    SPLIT_RETIRED,
    STATUS_RENAMED,
    V1,
    V2,
    read_yaml,
    second_version,
    write_second_version,
    write_yaml,
)

PERSONNE = {"nom": "Dupont", "prenom": "Marie", "date_naissance": "1990-04-15"}


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return referential.Validator(second_version(tmp_path_factory.mktemp("v2")))


def situations(*codes, version=V1):
    document = {"personne": PERSONNE, "diagnostic": {"situations": [{"code": c} for c in codes]}}
    if version is not None:
        document["version_referentiel"] = version
    return document


def validate(validator, document, kind="carnet"):
    return validator.validate(kind, json.dumps(document).encode())


def codes_of(report):
    dumped = report.value.model_dump(mode="json", exclude_unset=True)
    return [s["code"] for s in dumped["diagnostic"]["situations"]]


def findings(items):
    return [(f.pointer, f.code) for f in items]


def test_the_second_version_is_current_and_the_first_still_supported(validator):
    assert validator.version == V2
    assert validator.referential.supported_versions() == (V1, V2)


def test_payload_without_a_version_is_read_in_the_current_one(validator):
    report = validate(validator, situations(RENAMED[1], version=None))
    assert report.valid
    assert report.version == V2
    assert report.warnings == []


# -- rename ----------------------------------------------------------------------------------


def test_renamed_code_of_the_older_version_is_translated_with_one_warning(validator):
    report = validate(validator, situations(RENAMED[0]))
    assert report.valid
    assert codes_of(report) == [RENAMED[1]]
    (warning,) = report.warnings
    assert (warning.pointer, warning.code, warning.niveau) == (
        "/diagnostic/situations/0/code",
        "code_traduit",
        "avertissement",
    )
    assert warning.suggestion == RENAMED[1]
    assert warning.message == (
        f"Code « {RENAMED[0]} » de la version 2026.1 traduit en « {RENAMED[1]} » : il est "
        "remplacé depuis la version 2026.2 du référentiel."
    )


def test_translated_value_is_expressed_in_the_current_version(validator):
    report = validate(validator, situations(RENAMED[0]))
    assert report.version == V1
    dumped = report.value.model_dump(mode="json", exclude_unset=True)
    assert dumped["version_referentiel"] == V2
    assert dumped["personne"] == PERSONNE


def test_renamed_code_sent_in_the_current_version_is_kept_with_a_deprecation_warning(validator):
    report = validate(validator, situations(RENAMED[0], version=V2))
    assert report.valid
    assert codes_of(report) == [RENAMED[0]]
    assert findings(report.warnings) == [("/diagnostic/situations/0/code", "code_deprecie")]
    assert report.warnings[0].suggestion == RENAMED[1]


def test_code_introduced_in_the_current_version_is_unknown_in_the_older_one(validator):
    report = validate(validator, situations(RENAMED[1]))
    assert findings(report.errors) == [("/diagnostic/situations/0/code", "code_inconnu")]


# -- merge -----------------------------------------------------------------------------------


def test_both_merged_codes_translate_to_the_merged_code_with_a_warning_each(validator):
    report = validate(validator, situations(*MERGED[0]))
    assert report.valid
    assert codes_of(report) == [MERGED[1], MERGED[1]]
    assert findings(report.warnings) == [
        ("/diagnostic/situations/0/code", "code_traduit"),
        ("/diagnostic/situations/1/code", "code_traduit"),
    ]


# -- split -----------------------------------------------------------------------------------


def test_split_code_still_published_is_kept_with_a_warning_naming_both_codes(validator):
    report = validate(validator, situations(SPLIT[0]))
    assert report.valid
    assert codes_of(report) == [SPLIT[0]]
    (warning,) = report.warnings
    assert warning.code == "code_deprecie"
    assert warning.message == (
        f"Le code « {SPLIT[0]} » est déprécié depuis la version 2026.2 du référentiel ; "
        f"utiliser « {SPLIT[1][0]}, {SPLIT[1][1]} »."
    )


def test_split_code_no_longer_published_is_an_error_listing_the_choices(validator):
    report = validate(validator, situations(RENAMED[0], SPLIT_RETIRED[0]))
    assert not report.valid
    assert report.value is None
    (error,) = report.errors
    assert (error.pointer, error.code) == ("/diagnostic/situations/1/code", "code_retire")
    assert error.attendu == ", ".join(SPLIT_RETIRED[1])
    assert error.suggestion is None
    assert error.message == (
        f"Le code « {SPLIT_RETIRED[0]} » n'existe plus depuis la version 2026.2 du référentiel : "
        f"il est remplacé par « {SPLIT_RETIRED[1][0]} » ou « {SPLIT_RETIRED[1][1]} », selon la "
        "situation."
    )


# -- retired ---------------------------------------------------------------------------------


def test_retired_code_without_replacement_is_an_error(validator):
    report = validate(validator, situations(RETIRED))
    (error,) = report.errors
    assert (error.pointer, error.code) == ("/diagnostic/situations/0/code", "code_retire")
    assert error.message == (
        f"Le code « {RETIRED} » n'existe plus depuis la version 2026.2 du référentiel, sans "
        "remplacement."
    )
    assert error.attendu == "/v1/referentiel/situations"


def test_retired_code_sent_in_the_current_version_is_unknown(validator):
    report = validate(validator, situations(RETIRED, version=V2))
    assert findings(report.errors) == [("/diagnostic/situations/0/code", "code_inconnu")]


def test_retired_enumeration_value_with_one_replacement_is_translated(validator):
    action = {"code": "mobilite.bourse_permis", "statut": STATUS_RENAMED[0]}
    objectif = {"code": "mobilite.acceder_vehicule", "statut": "en_cours", "actions": [action]}
    document = {
        "personne": PERSONNE,
        "version_referentiel": V1,
        "axes": [{"theme": "mobilite", "objectifs": [objectif]}],
    }
    report = validate(validator, document)
    assert report.valid
    assert findings(report.warnings) == [("/axes/0/objectifs/0/actions/0/statut", "code_traduit")]
    dumped = report.value.model_dump(mode="json", exclude_unset=True)
    assert dumped["axes"][0]["objectifs"][0]["actions"][0]["statut"] == STATUS_RENAMED[1]


def test_a_contribution_is_translated_too(validator):
    document = situations(RENAMED[0])
    del document["personne"]
    report = validate(validator, document, kind="contribution")
    assert report.valid
    assert codes_of(report) == [RENAMED[1]]


def test_a_declaration_written_with_escapes_is_still_read(validator):
    body = json.dumps(situations(RENAMED[0])).replace(
        "version_referentiel", "version\\u005freferentiel"
    )
    report = validator.validate("carnet", body.encode())
    assert report.valid
    assert findings(report.warnings) == [("/diagnostic/situations/0/code", "code_traduit")]


def test_errors_of_an_older_payload_are_those_of_its_version(validator):
    document = situations(RENAMED[0])
    document["personne"] = {**PERSONNE, "date_naissance": "1990-02-30"}
    report = validate(validator, document)
    assert findings(report.errors) == [("/personne/date_naissance", "date_invalide")]


# -- chains ----------------------------------------------------------------------------------


def test_a_code_renamed_twice_translates_to_the_last_code(tmp_path):
    target = write_second_version(tmp_path / "data")
    meta = read_yaml(target / "referentiel.yaml")
    meta["versions"][1]["statut"] = "supportee"
    meta["versions"].append(
        {"version": "2026.3", "publiee_le": "2028-01-01", "statut": "courante", "notes": "Essai."}
    )
    meta["courante"] = "2026.3"
    write_yaml(target / "referentiel.yaml", meta)
    path = target / "situations.yaml"
    document = read_yaml(path)
    for entry in document["entrees"]:
        if entry["code"] == RENAMED[1]:
            entry.update(deprecie_en="2026.3", remplace_par=["logement.heberge_ailleurs"])
    document["entrees"].append(
        {
            "code": "logement.heberge_ailleurs",
            "libelle": "Hébergé ailleurs",
            "theme": "logement",
            "categorie": "situation",
            "introduit_en": "2026.3",
        }
    )
    write_yaml(path, document)
    validator = referential.Validator(referential.load_referential(target))
    report = validate(validator, situations(RENAMED[0]))
    assert codes_of(report) == ["logement.heberge_ailleurs"]
    (warning,) = report.warnings
    assert warning.suggestion == "logement.heberge_ailleurs"


# -- end of support --------------------------------------------------------------------------


def test_a_version_past_its_end_of_support_is_refused_clearly(tmp_path):
    validator = referential.Validator(second_version(tmp_path, first_status="retiree"))
    report = validate(validator, situations(RENAMED[0]))
    assert not report.valid
    assert report.value is None
    (error,) = report.errors
    assert (error.pointer, error.code) == ("/version_referentiel", "version_referentiel_retiree")
    assert error.message == (
        "La version 2026.1 du référentiel n'est plus prise en charge depuis le 2027-12-31 : "
        "exprimer le contenu dans une version prise en charge (2026.2)."
    )
    assert error.attendu == "2026.2"


def test_the_version_error_comes_beside_the_other_errors(tmp_path):
    validator = referential.Validator(second_version(tmp_path, first_status="retiree"))
    document = situations(RENAMED[0])
    document["personne"] = {**PERSONNE, "nom": ""}
    report = validate(validator, document)
    assert findings(report.errors) == [
        ("/personne/nom", "texte_trop_court"),
        ("/version_referentiel", "version_referentiel_retiree"),
    ]


def test_an_unknown_version_is_refused_with_the_supported_ones(validator):
    report = validate(validator, situations(version="2025.1"))
    (error,) = report.errors
    assert error.code == "version_referentiel_inconnue"
    assert error.attendu == "2026.1, 2026.2"


def test_a_version_announced_ahead_is_refused(tmp_path):
    target = write_second_version(tmp_path / "data")
    meta = read_yaml(target / "referentiel.yaml")
    meta["versions"].append(
        {"version": "2026.3", "publiee_le": "2028-01-01", "statut": "a_venir", "notes": "Essai."}
    )
    write_yaml(target / "referentiel.yaml", meta)
    validator = referential.Validator(referential.load_referential(target))
    (error,) = validate(validator, situations(version="2026.3")).errors
    assert error.code == "version_referentiel_a_venir"


# -- publication rules -----------------------------------------------------------------------


def test_a_replacement_not_yet_published_is_refused(tmp_path):
    target = write_second_version(tmp_path / "data")
    path = target / "situations.yaml"
    document = read_yaml(path)
    for entry in document["entrees"]:
        if entry["code"] == RENAMED[1]:
            entry["introduit_en"] = "2026.3"
    meta = read_yaml(target / "referentiel.yaml")
    meta["versions"].append(
        {"version": "2026.3", "publiee_le": "2028-01-01", "statut": "a_venir", "notes": "Essai."}
    )
    write_yaml(target / "referentiel.yaml", meta)
    write_yaml(path, document)
    with pytest.raises(referential.ReferentialDataError, match=r"non publié en 2026\.2"):
        referential.load_referential(target)


def test_a_code_retired_before_it_was_introduced_is_refused(tmp_path):
    target = write_second_version(tmp_path / "data")
    path = target / "situations.yaml"
    document = read_yaml(path)
    document["entrees"][-1]["retire_en"] = V1
    write_yaml(path, document)
    with pytest.raises(referential.ReferentialDataError, match="retiré avant ou dès"):
        referential.load_referential(target)


def test_a_supported_version_after_the_current_one_is_refused(tmp_path):
    target = write_second_version(tmp_path / "data")
    meta = read_yaml(target / "referentiel.yaml")
    meta["versions"].append(
        {"version": "2026.3", "publiee_le": "2028-01-01", "statut": "supportee", "notes": "Essai."}
    )
    write_yaml(target / "referentiel.yaml", meta)
    with pytest.raises(referential.ReferentialDataError, match="suivent la courante"):
        referential.load_referential(target)


def test_two_current_versions_are_refused(tmp_path):
    target = write_second_version(tmp_path / "data", first_status="courante")
    with pytest.raises(referential.ReferentialDataError, match="seule la version courante"):
        referential.load_referential(target)


# -- diff ------------------------------------------------------------------------------------


def test_the_diff_of_the_second_version_lists_every_change(validator):
    assert validator.referential.diff(V1, V2).to_wire() == EXPECTED_DIFF


def test_a_version_has_no_change_from_itself(validator):
    changes = validator.referential.diff(V2, V2)
    assert changes.empty
    assert changes.to_wire()["ajoutes"] == []


def test_a_merge_into_an_existing_code_is_a_merge(tmp_path):
    target = write_second_version(tmp_path / "data")
    path = target / "situations.yaml"
    document = read_yaml(path)
    for entry in document["entrees"]:
        if entry["code"] == "logement.proprietaire":
            entry.update(deprecie_en=V2, remplace_par=["logement.locataire_parc_prive"])
    write_yaml(path, document)
    changes = referential.load_referential(target).diff(V1, V2).to_wire()
    assert {
        "liste": "situations",
        "codes": ["logement.proprietaire"],
        "remplace_par": "logement.locataire_parc_prive",
    } in changes["fusionnes"]
    assert all(r["code"] != "logement.proprietaire" for r in changes["renommes"])


@pytest.mark.parametrize(("de", "a"), [(V2, V1), ("2025.1", V2), (V1, "2030.1")])
def test_a_diff_backwards_or_with_an_unknown_version_is_refused(validator, de, a):
    with pytest.raises(referential.VersionOrderError):
        validator.referential.diff(de, a)
