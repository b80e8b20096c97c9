"""The validation engine, driven through ``Validator.validate`` on JSON bytes.

Each test builds a minimal valid notebook, sets one field, and checks the findings: stable code,
JSON Pointer, French message, suggestion.
"""

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import referential

DATA_DIR = Path(referential.__file__).parent / "data"
NIR_MESSAGE = "La clé de contrôle du NIR est invalide."
PHONE_MESSAGE = (
    "Numéro de téléphone invalide : 10 chiffres commençant par 0, ou format international "
    "(+33…, +262…)."
)


def minimal_carnet():
    return {"personne": {"nom": "Dupont", "prenom": "Marie", "date_naissance": "1990-04-15"}}


def carnet_with(path, value):
    """A minimal valid notebook with the field at ``path`` (``a/b/c``) set to ``value``."""
    document = minimal_carnet()
    *parents, last = path.split("/")
    node = document
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value
    return document


def validate(payload, validator=None, kind="carnet"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return (validator or referential.default_validator()).validate(kind, body)


def findings(findings_list):
    return [(f.pointer, f.code) for f in findings_list]


def only_error(report):
    assert len(report.errors) == 1, findings(report.errors)
    return report.errors[0]


def axe_with(theme, objectif_code, statut="en_cours", actions=None):
    objectif = {"code": objectif_code, "statut": statut}
    if actions is not None:
        objectif["actions"] = actions
    return [{"theme": theme, "objectifs": [objectif]}]


def carnet_with_action(action):
    return carnet_with("axes", axe_with("mobilite", "mobilite.acceder_vehicule", actions=[action]))


def luhn_check_digit(prefix):
    """The digit completing ``prefix`` into a number that passes the Luhn checksum."""
    for digit in "0123456789":
        total = 0
        for index, char in enumerate(reversed(prefix + digit)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digit
    raise AssertionError(prefix)


MADE_UP_SIRET = "1234567890123" + luhn_check_digit("1234567890123")


# -- the minimal notebook ----------------------------------------------------------------------


def test_minimal_carnet_is_valid():
    report = validate(minimal_carnet())
    assert report.valid
    assert report.errors == []
    assert report.warnings == []
    assert report.value is not None


def test_invalid_payload_has_no_value():
    assert validate(carnet_with("personne/nir", "12")).value is None


# -- NIR ---------------------------------------------------------------------------------------


def test_nir_of_13_characters_is_valid():
    assert validate(carnet_with("personne/nir", "2900499999001")).valid


def test_nir_of_15_characters_with_its_key_is_valid():
    assert referential.nir_key("2900499999001") == 61
    assert validate(carnet_with("personne/nir", "290049999900161")).valid


def test_nir_with_a_wrong_key_is_refused():
    error = only_error(validate(carnet_with("personne/nir", "290049999900162")))
    assert (error.pointer, error.code) == ("/personne/nir", "nir_cle_invalide")
    assert error.message == NIR_MESSAGE


def test_nir_key_counts_corsica_2a_as_19():
    # 1 90 04 19 123 456 = 1900419123456; 1900419123456 mod 97 = 34; 97 - 34 = 63.
    assert 1900419123456 % 97 == 34
    assert referential.nir_key("190042A123456") == 63


def test_nir_key_counts_corsica_2b_as_18():
    assert referential.nir_key("190042B123456") == 97 - 1900418123456 % 97


@pytest.mark.parametrize("departement", ["2A", "2B"])
def test_corsican_nir_with_its_key_is_valid(departement):
    nir13 = f"29004{departement}054032"
    nir = f"{nir13}{referential.nir_key(nir13):02d}"
    report = validate(carnet_with("personne/nir", nir))
    assert report.valid, findings(report.errors)
    assert report.value.personne.nir == nir13


@pytest.mark.parametrize("departement", ["2A", "2B"])
def test_corsican_nir_with_a_wrong_key_is_refused(departement):
    nir13 = f"29004{departement}054032"
    wrong = (referential.nir_key(nir13) % 97) + 1
    error = only_error(validate(carnet_with("personne/nir", f"{nir13}{wrong:02d}")))
    assert error.code == "nir_cle_invalide"


def test_corsican_nir_key_differs_from_the_digits_20():
    assert referential.nir_key("190042A123456") != referential.nir_key("1900420123456")


@pytest.mark.parametrize(
    "nir",
    [
        "2900A99999001",  # letter in the month
        "29004999990O1",  # letter O for zero
        "290042C999001",  # department 2C
        "290042a999001",  # lower-case Corsica
        "2900499999001AB",  # letters as key
    ],
)
def test_nir_with_letters_outside_the_corsican_department_is_malformed(nir):
    error = only_error(validate(carnet_with("personne/nir", nir)))
    assert (error.pointer, error.code) == ("/personne/nir", "nir_format")


@pytest.mark.parametrize("nir", ["290049999900", "29004999990016", "2900499999001611", ""])
def test_nir_of_the_wrong_length_is_refused(nir):
    error = only_error(validate(carnet_with("personne/nir", nir)))
    assert (error.pointer, error.code) == ("/personne/nir", "nir_longueur")
    assert error.message == "Le NIR doit compter 13 caractères, ou 15 avec la clé."


def test_nir_as_a_number_is_a_type_error():
    error = only_error(validate(carnet_with("personne/nir", 2900499999001)))
    assert (error.pointer, error.code) == ("/personne/nir", "type_invalide")


def test_only_the_13_first_characters_of_the_nir_are_kept():
    report = validate(carnet_with("personne/nir", "290049999900161"))
    assert report.value.personne.nir == "2900499999001"


# -- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "telephone",
    [
        "0612345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "+33 6 12 34 56 78",
        "+33612345678",
    ],
)
def test_metropolitan_phone_is_normalised_to_e164(telephone):
    report = validate(carnet_with("coordonnees/telephones", [telephone]))
    assert report.valid, findings(report.errors)
    assert report.value.coordonnees.telephones == ["+33612345678"]


def test_phone_with_mayotte_mobile_prefix_0639_is_normalised_with_262():
    # 06 39 is Mayotte's mobile block in the French national numbering: E.164 country code 262.
    report = validate(carnet_with("coordonnees/telephones", ["06 39 98 00 01"]))
    assert report.valid, findings(report.errors)
    assert report.value.coordonnees.telephones == ["+262639980001"]


@pytest.mark.parametrize(
    ("telephone", "e164"),
    [
        ("0692123456", "+262692123456"),  # La Réunion, mobile
        ("0262 12 34 56", "+262262123456"),  # La Réunion, fixed
        ("0269 61 23 45", "+262269612345"),  # Mayotte, fixed
        ("0690 12 34 56", "+590690123456"),  # Guadeloupe, mobile
        ("0696 12 34 56", "+596696123456"),  # Martinique, mobile
        ("0694 12 34 56", "+594694123456"),  # Guyane, mobile
        ("+262 692 12 34 56", "+262692123456"),
    ],
)
def test_overseas_phone_is_normalised_with_its_country_code(telephone, e164):
    report = validate(carnet_with("coordonnees/telephones", [telephone]))
    assert report.valid, findings(report.errors)
    assert report.value.coordonnees.telephones == [e164]


@pytest.mark.parametrize(
    "telephone",
    ["12", "+1 555 0100", "0012345678", "06 12 34 56 7", "06123456789", "6 12 34 56 78"],
)
def test_malformed_phone_is_refused(telephone):
    error = only_error(validate(carnet_with("coordonnees/telephones", [telephone])))
    assert (error.pointer, error.code) == ("/coordonnees/telephones/0", "telephone_invalide")
    assert error.message == PHONE_MESSAGE


def test_invalid_phone_is_located_by_its_index():
    report = validate(carnet_with("coordonnees/telephones", ["0612345678", "12"]))
    assert findings(report.errors) == [("/coordonnees/telephones/1", "telephone_invalide")]


def test_ten_digit_number_starting_0508_is_a_metropolitan_number():
    # Saint-Pierre-et-Miquelon is outside the 10-digit national plan (+508 and 6 digits):
    # 05 08 … is a number of the south-west of metropolitan France.
    report = validate(carnet_with("coordonnees/telephones", ["0508 41 23 45", "+508 41 23 45"]))
    assert report.value.coordonnees.telephones == ["+33508412345", "+508412345"]


# -- postal codes ------------------------------------------------------------------------------


def adresse(code_postal):
    return {"ligne1": "1 rue de la Paix", "code_postal": code_postal, "commune": "Valence"}


@pytest.mark.parametrize("code_postal", ["26000", "97411", "20000", "01000", "98000"])
def test_five_digit_postal_code_is_valid(code_postal):
    assert validate(carnet_with("coordonnees/adresse", adresse(code_postal))).valid


@pytest.mark.parametrize("code_postal", ["00123", "2600", "260000", "ABCDE", "2A000", " 26000"])
def test_malformed_postal_code_is_refused(code_postal):
    error = only_error(validate(carnet_with("coordonnees/adresse", adresse(code_postal))))
    assert (error.pointer, error.code) == (
        "/coordonnees/adresse/code_postal",
        "code_postal_invalide",
    )
    assert error.message == "Code postal invalide : 5 chiffres, ne commençant pas par 00."


# -- SIRET -------------------------------------------------------------------------------------


def groupe_suivi(siret):
    membre = {"organisation": {"nom": "CCAS", "siret": siret}, "role": "referent", "actif": True}
    return {"groupe_suivi": [membre]}


def orientation(siret):
    return {"type": "social", "date": "2026-01-05", "structure": {"nom": "CCAS", "siret": siret}}


def test_made_up_siret_is_luhn_valid():
    assert MADE_UP_SIRET == "12345678901237"
    assert referential.siret_is_valid(MADE_UP_SIRET)


def _luhn_reference(siret):
    """Luhn as written in the SIRET's definition: every second digit from the right doubled,
    9 taken off when over 9, the sum a multiple of 10 (La Poste: the digit sum, of 5)."""
    if siret.startswith("356000000") and siret != "35600000000048":
        return sum(int(d) for d in siret) % 5 == 0
    total = 0
    for position, digit in enumerate(reversed(siret)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@settings(max_examples=2_000)
@given(
    st.text(alphabet="0123456789", min_size=14, max_size=14)
    | st.text(alphabet="0123456789", min_size=5, max_size=5).map(lambda s: "356000000" + s)
)
def test_siret_key_is_the_luhn_rule(siret):
    assert referential.siret_is_valid(siret) == _luhn_reference(siret)


def test_siret_with_a_valid_luhn_key_is_accepted_in_the_follow_up_group():
    assert validate(carnet_with("accompagnement", groupe_suivi(MADE_UP_SIRET))).valid


def test_siret_with_a_valid_luhn_key_is_accepted_in_the_orientation():
    assert validate(carnet_with("orientation", orientation(MADE_UP_SIRET))).valid


def test_siret_with_a_wrong_luhn_key_is_refused():
    error = only_error(validate(carnet_with("accompagnement", groupe_suivi("12345678901238"))))
    assert error.pointer == "/accompagnement/groupe_suivi/0/organisation/siret"
    assert error.code == "siret_invalide"
    assert error.message == "Le SIRET est invalide (clé de Luhn)."


def test_siret_with_a_wrong_luhn_key_is_refused_in_the_orientation():
    error = only_error(validate(carnet_with("orientation", orientation("12345678901238"))))
    assert (error.pointer, error.code) == ("/orientation/structure/siret", "siret_invalide")


@pytest.mark.parametrize("siret", ["1234567890123", "123456789012370", "1234567890123A", ""])
def test_siret_not_of_14_digits_is_malformed(siret):
    error = only_error(validate(carnet_with("accompagnement", groupe_suivi(siret))))
    assert error.pointer == "/accompagnement/groupe_suivi/0/organisation/siret"
    assert error.code == "siret_format"
    assert error.message == "Le SIRET doit compter 14 chiffres."


def test_la_poste_establishment_siret_uses_the_digit_sum_rule():
    # SIREN 356000000: the digit sum is a multiple of 5 although the Luhn check fails.
    assert validate(carnet_with("accompagnement", groupe_suivi("35600000000010"))).valid


# -- dates and timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize("date", ["1990-02-30", "1990-2-3", "15/04/1990", "1990-04-15T00:00:00"])
def test_malformed_date_is_refused_with_its_pointer(date):
    error = only_error(validate(carnet_with("personne/date_naissance", date)))
    assert (error.pointer, error.code) == ("/personne/date_naissance", "date_invalide")
    assert error.message == "Date invalide : une date réelle au format AAAA-MM-JJ est attendue."


def test_date_as_a_number_is_a_type_error_with_its_pointer():
    error = only_error(validate(carnet_with("personne/date_naissance", 19900415)))
    assert (error.pointer, error.code) == ("/personne/date_naissance", "type_invalide")


# -- birth date ---------------------------------------------------------------------------------

#: Three days on from today here is the future anywhere on Earth (UTC-12 to UTC+14).
FUTURE = (date.today() + timedelta(days=3)).isoformat()


def made_up_nir(born, month=None):
    """A made-up 15-character NIR (département 99) of a person born in ``born``'s year, and
    month unless ``month`` (two digits) says otherwise."""
    nir13 = f"2{born[2:4]}{month or born[5:7]}99999001"
    return f"{nir13}{referential.nir_key(nir13):02d}"


def birth(date_naissance, nir=None, kind="carnet"):
    personne = {"nom": "Dupont", "prenom": "Marie", "date_naissance": date_naissance}
    if nir is not None:
        personne["nir"] = nir
    return validate(personne if kind == "personne" else {"personne": personne}, kind=kind)


@pytest.mark.parametrize("kind", ["carnet", "contribution", "personne"])
@pytest.mark.parametrize(
    ("date_naissance", "nir", "code", "message"),
    [
        (FUTURE, None, "date_naissance_future", "La date de naissance est dans le futur."),
        (
            "1899-12-31",
            None,
            "date_naissance_trop_ancienne",
            "Date de naissance trop ancienne : le 1er janvier 1900 au plus tôt.",
        ),
        (
            "1991-04-15",
            "290049999900161",
            "date_naissance_incoherente_nir",
            "La date de naissance ne correspond pas à l'année ou au mois de naissance inscrits "
            "dans le NIR.",
        ),
        ("1990-05-15", "2900499999001", "date_naissance_incoherente_nir", None),
        ("2090-04-15", None, "date_naissance_future", None),
    ],
)
def test_birth_date_refused_in_every_payload_carrying_a_person(
    kind, date_naissance, nir, code, message
):
    error = only_error(birth(date_naissance, nir, kind))
    pointer = "/date_naissance" if kind == "personne" else "/personne/date_naissance"
    assert (error.pointer, error.code) == (pointer, code)
    if message is not None:
        assert error.message == message


@pytest.mark.parametrize(
    ("date_naissance", "nir"),
    [
        ("1900-01-01", None),
        (date.today().isoformat(), None),
        ("1990-04-15", "290049999900161"),
        ("1990-04-15", "2900499999001"),
        ("2005-11-30", made_up_nir("2005-11-30")),
        ("1905-11-30", made_up_nir("2005-11-30")),  # the NIR has the year's last two digits
        ("1990-07-14", made_up_nir("1990-07-14", month="20")),  # month unknown: 20 to 42
        ("1990-07-14", made_up_nir("1990-07-14", month="42")),
        ("1990-07-14", made_up_nir("1990-07-14", month="50")),  # and 50 or more
        ("1990-07-14", made_up_nir("1990-07-14", month="99")),
    ],
)
def test_birth_date_accepted(date_naissance, nir):
    report = birth(date_naissance, nir)
    assert report.valid, findings(report.errors)


@pytest.mark.parametrize("month", ["13", "19", "43", "49", "00"])
def test_birth_date_only_checks_the_year_of_a_nir_without_a_month_in_01_to_12(month):
    assert birth("1990-07-14", made_up_nir("1990-07-14", month=month)).valid
    error = only_error(birth("1991-07-14", made_up_nir("1990-07-14", month=month)))
    assert error.code == "date_naissance_incoherente_nir"


def test_a_nir_with_a_wrong_key_is_not_compared_with_the_birth_date():
    error = only_error(birth("1991-04-15", "290049999900162"))
    assert (error.pointer, error.code) == ("/personne/nir", "nir_cle_invalide")


def test_a_birth_date_in_the_future_is_not_compared_with_the_nir():
    error = only_error(birth(FUTURE, "290049999900161"))
    assert error.code == "date_naissance_future"


def rendez_vous(date):
    return [{"id": "rdv-1", "date": date, "statut": "a_venir"}]


def evenement(date):
    return [{"id": "evt-1", "type": "autre", "date": date, "libelle": "Entretien"}]


@pytest.mark.parametrize(
    "date", ["2026-01-05T10:00:00+01:00", "2026-01-05T09:00:00Z", "2026-01-05T10:00:00.250-03:00"]
)
def test_timestamp_with_a_time_zone_is_valid(date):
    assert validate(carnet_with("rendez_vous", rendez_vous(date))).valid
    assert validate(carnet_with("evenements", evenement(date))).valid


@pytest.mark.parametrize(
    "date", ["2026-01-05T10:00", "2026-01-05T10:00:00", "2026-01-05 10:00:00+01:00", "2026-01-05"]
)
def test_timestamp_without_seconds_or_time_zone_is_refused(date):
    error = only_error(validate(carnet_with("rendez_vous", rendez_vous(date))))
    assert (error.pointer, error.code) == ("/rendez_vous/0/date", "horodatage_invalide")


def test_invalid_event_timestamp_is_located():
    error = only_error(validate(carnet_with("evenements", evenement("2026-01-05T10:00"))))
    assert (error.pointer, error.code) == ("/evenements/0/date", "horodatage_invalide")


def test_impossible_timestamp_is_refused_as_a_timestamp_error():
    error = only_error(validate(carnet_with("rendez_vous", rendez_vous("2026-02-30T10:00:00Z"))))
    assert (error.pointer, error.code) == ("/rendez_vous/0/date", "horodatage_invalide")


def test_timestamp_that_is_not_a_string_is_a_type_error_naming_rfc_3339():
    error = only_error(validate(carnet_with("rendez_vous", rendez_vous(1767600000))))
    assert (error.pointer, error.code, error.attendu) == (
        "/rendez_vous/0/date",
        "type_invalide",
        None,
    )
    assert error.message == "Type invalide : la valeur doit être un horodatage RFC 3339 (chaîne)."


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("coordonnees/telephones", [612345678], "/coordonnees/telephones/0"),
        (
            "accompagnement/groupe_suivi",
            [
                {
                    "organisation": {"nom": "CCAS", "siret": 12345678901234},
                    "role": "referent",
                    "actif": True,
                }
            ],
            "/accompagnement/groupe_suivi/0/organisation/siret",
        ),
    ],
)
def test_phone_or_siret_that_is_not_a_string_is_a_string_type_error(path, value, pointer):
    error = only_error(validate(carnet_with(path, value)))
    assert (error.pointer, error.code, error.attendu) == (
        pointer,
        "type_invalide",
        "une chaîne de caractères",
    )


def test_bound_models_carry_each_rule_of_their_fields_once():
    """Models bound to a version re-declare only the fields holding payloads, with the
    metadata of the field once (twice, a validator would run twice)."""
    for model in referential.default_validator().models.kinds.values():
        for cls in model.__mro__[1:]:
            if issubclass(cls, referential.Payload) and cls.model_fields:
                break
        for name, field in model.model_fields.items():
            assert field.metadata == cls.model_fields[name].metadata, (model, name)


def test_period_ending_before_it_starts_is_refused():
    contrat = {"type": "cer", "date_debut": "2026-02-01", "date_fin": "2026-01-01"}
    error = only_error(validate(carnet_with("contrat", contrat)))
    assert (error.pointer, error.code) == ("/contrat/date_fin", "periode_invalide")


# -- e-mail ------------------------------------------------------------------------------------


@pytest.mark.parametrize("courriel", ["marie.dupont@example.org", "m+suivi@cd26.fr", "a@b"])
def test_well_formed_email_is_valid(courriel):
    assert validate(carnet_with("coordonnees/courriel", courriel)).valid


@pytest.mark.parametrize(
    "courriel",
    ["marie@", "@example.org", "marie dupont@example.org", "marie@example..org", "marie"],
)
def test_malformed_email_is_refused(courriel):
    error = only_error(validate(carnet_with("coordonnees/courriel", courriel)))
    assert (error.pointer, error.code) == ("/coordonnees/courriel", "courriel_invalide")
    assert error.message == "Adresse électronique invalide."


# -- codes of the referential ------------------------------------------------------------------


def test_unknown_situation_label_is_refused_with_the_code_it_names():
    situations = [{"code": "Hébergé chez un tiers"}]
    error = only_error(validate(carnet_with("diagnostic/situations", situations)))
    assert (error.pointer, error.code) == ("/diagnostic/situations/0/code", "code_inconnu")
    assert error.suggestion == "logement.heberge_chez_tiers"
    assert error.message == (
        "Code inconnu dans la liste « situations » du référentiel. "
        "Vouliez-vous dire « logement.heberge_chez_tiers » ?"
    )
    assert error.attendu == "/v1/referentiel/situations"


def test_predecessor_objective_status_suggests_its_new_code():
    axes = axe_with("mobilite", "mobilite.acceder_vehicule", statut="abandonned")
    error = only_error(validate(carnet_with("axes", axes)))
    assert (error.pointer, error.code) == ("/axes/0/objectifs/0/statut", "code_inconnu")
    assert error.suggestion == "abandonne"


def test_predecessor_action_status_suggests_its_new_code():
    action = {"code": "mobilite.bourse_permis", "statut": "abandonned"}
    error = only_error(validate(carnet_with_action(action)))
    assert error.pointer == "/axes/0/objectifs/0/actions/0/statut"
    assert error.suggestion == "abandonnee"


def test_misspelt_code_suggests_the_closest_code():
    situations = [{"code": "logement.heberge_chez_tier"}]
    error = only_error(validate(carnet_with("diagnostic/situations", situations)))
    assert error.code == "code_inconnu"
    assert error.suggestion == "logement.heberge_chez_tiers"


def test_unrelated_unknown_code_has_no_suggestion():
    situations = [{"code": "zzz"}]
    error = only_error(validate(carnet_with("diagnostic/situations", situations)))
    assert error.code == "code_inconnu"
    assert error.suggestion is None
    assert error.message == "Code inconnu dans la liste « situations » du référentiel."


def test_code_of_another_list_is_unknown():
    axes = axe_with("mobilite", "mobilite.bourse_permis")
    error = only_error(validate(carnet_with("axes", axes)))
    assert (error.pointer, error.code) == ("/axes/0/objectifs/0/code", "code_inconnu")


def test_objective_outside_its_axis_themes_is_a_warning():
    axes = axe_with("emploi", "mobilite.faire_point_complet_mobilite")
    report = validate(carnet_with("axes", axes))
    assert report.valid
    assert findings(report.warnings) == [("/axes/0/objectifs/0/code", "objectif_hors_axe")]
    assert report.warnings[0].niveau == "avertissement"
    assert report.warnings[0].message == (
        "L'objectif « mobilite.faire_point_complet_mobilite » n'appartient pas aux objectifs "
        "proposés sous l'axe « emploi »."
    )


@pytest.mark.parametrize(
    ("theme", "objectif"),
    [
        ("emploi", "trouver_un_emploi.repondre_offres_emploi"),
        ("emploi", "creer_une_entreprise.developper_entreprise"),
        ("formation", "se_former.trouver_formation"),
        ("mobilite", "mobilite.acceder_vehicule"),
    ],
)
def test_objective_offered_under_its_axis_has_no_warning(theme, objectif):
    report = validate(carnet_with("axes", axe_with(theme, objectif)))
    assert report.valid
    assert report.warnings == []


def test_objective_of_an_emploi_group_under_formation_is_a_warning():
    axes = axe_with("formation", "choisir_un_metier.confirmer_choix_metier")
    report = validate(carnet_with("axes", axes))
    assert findings(report.warnings) == [("/axes/0/objectifs/0/code", "objectif_hors_axe")]


def test_objective_outside_its_axis_is_located_in_an_axes_payload():
    body = {
        "theme": "emploi",
        "objectifs": [{"code": "mobilite.acceder_vehicule", "statut": "en_cours"}],
    }
    report = validate(body, kind="axes")
    assert report.valid
    assert findings(report.warnings) == [("/objectifs/0/code", "objectif_hors_axe")]


def test_objective_sub_theme_is_not_accepted_silently_as_a_focus():
    axes = axe_with("choisir_un_metier", "choisir_un_metier.confirmer_choix_metier")
    report = validate(carnet_with("axes", axes))
    flagged = findings(report.errors) + findings(report.warnings)
    assert [pointer for pointer, _ in flagged] == ["/axes/0/theme"]


# -- deprecated codes --------------------------------------------------------------------------


def read_yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_yaml(path, document):
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def deprecate(data_dir, filename, code, replacement):
    path = data_dir / filename
    document = read_yaml(path)
    entry = next(e for e in document["entrees"] if e["code"] == code)
    entry["deprecie_en"] = "2026.2"
    entry["remplace_par"] = [replacement]
    write_yaml(path, document)


@pytest.fixture
def data_dir_2026_2(tmp_path):
    """A copy of the data with a version 2026.2 in which nothing is deprecated yet."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    meta = read_yaml(target / "referentiel.yaml")
    meta["versions"][0]["statut"] = "supportee"
    meta["versions"].append(
        {"version": "2026.2", "publiee_le": "2027-06-01", "statut": "courante", "notes": "Essai."}
    )
    meta["courante"] = "2026.2"
    write_yaml(target / "referentiel.yaml", meta)
    return target


@pytest.fixture
def deprecated_situation(data_dir_2026_2):
    deprecate(
        data_dir_2026_2,
        "situations.yaml",
        "logement.heberge_chez_tiers",
        "logement.heberge_domicile_parental",
    )
    return referential.load_referential(data_dir_2026_2)


def test_deprecated_code_is_accepted_with_a_warning_naming_its_replacement(deprecated_situation):
    validator = referential.Validator(deprecated_situation, "2026.2")
    situations = [{"code": "logement.heberge_chez_tiers"}]
    report = validate(carnet_with("diagnostic/situations", situations), validator)
    assert report.valid
    assert findings(report.warnings) == [("/diagnostic/situations/0/code", "code_deprecie")]
    warning = report.warnings[0]
    assert warning.suggestion == "logement.heberge_domicile_parental"
    assert warning.message == (
        "Le code « logement.heberge_chez_tiers » est déprécié depuis la version 2026.2 du "
        "référentiel ; utiliser « logement.heberge_domicile_parental »."
    )


def test_code_deprecated_later_has_no_warning_in_an_earlier_version(deprecated_situation):
    validator = referential.Validator(deprecated_situation, "2026.1")
    situations = [{"code": "logement.heberge_chez_tiers"}]
    report = validate(carnet_with("diagnostic/situations", situations), validator)
    assert report.valid
    assert report.warnings == []


def test_replacement_code_has_no_warning(deprecated_situation):
    validator = referential.Validator(deprecated_situation, "2026.2")
    situations = [{"code": "logement.heberge_domicile_parental"}]
    report = validate(carnet_with("diagnostic/situations", situations), validator)
    assert report.valid
    assert report.warnings == []


def test_deprecated_code_written_with_a_json_escape_is_still_warned(deprecated_situation):
    validator = referential.Validator(deprecated_situation, "2026.2")
    body = json.dumps(minimal_carnet())[:-1].encode() + (
        b', "diagnostic": {"situations": [{"code": "logement.heberge\\u005fchez_tiers"}]}}'
    )
    report = validate(body, validator)
    assert report.valid
    assert findings(report.warnings) == [("/diagnostic/situations/0/code", "code_deprecie")]


def test_deprecation_in_one_list_does_not_warn_on_the_same_code_of_another_list(
    data_dir_2026_2,
):
    deprecate(data_dir_2026_2, "enumerations/statuts_action.yaml", "en_cours", "en_projet")
    validator = referential.Validator(referential.load_referential(data_dir_2026_2), "2026.2")
    axes = axe_with("mobilite", "mobilite.acceder_vehicule", statut="en_cours")
    report = validate(carnet_with("axes", axes), validator)
    assert report.valid
    assert report.warnings == []


def test_deprecated_enumeration_value_is_warned_where_it_is_used(data_dir_2026_2):
    deprecate(data_dir_2026_2, "enumerations/statuts_action.yaml", "en_cours", "en_projet")
    validator = referential.Validator(referential.load_referential(data_dir_2026_2), "2026.2")
    action = {"code": "mobilite.bourse_permis", "statut": "en_cours"}
    axes = axe_with("mobilite", "mobilite.acceder_vehicule", statut="realise", actions=[action])
    report = validate(carnet_with("axes", axes), validator)
    assert report.valid
    assert findings(report.warnings) == [("/axes/0/objectifs/0/actions/0/statut", "code_deprecie")]
    assert report.warnings[0].suggestion == "en_projet"


# -- shape: unknown, missing and mistyped fields -----------------------------------------------


def test_unknown_field_is_refused_with_its_pointer():
    error = only_error(validate(carnet_with("personne/age", 35)))
    assert (error.pointer, error.code) == ("/personne/age", "champ_inconnu")
    assert error.message == "Champ inconnu : il ne fait pas partie du schéma."


def test_unknown_top_level_section_is_refused():
    error = only_error(validate(carnet_with("sante", {"rqth": True})))
    assert (error.pointer, error.code) == ("/sante", "champ_inconnu")


def test_missing_required_field_is_reported():
    document = minimal_carnet()
    del document["personne"]["prenom"]
    error = only_error(validate(document))
    assert (error.pointer, error.code) == ("/personne/prenom", "champ_obligatoire")
    assert error.message == "Champ obligatoire manquant."


def test_missing_person_is_reported():
    error = only_error(validate({}))
    assert (error.pointer, error.code) == ("/personne", "champ_obligatoire")


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        (
            "situation/projets_professionnels",
            [{"rayon_mobilite_km": "10"}],
            "/situation/projets_professionnels/0/rayon_mobilite_km",
        ),
        (
            "situation/projets_professionnels",
            [{"rayon_mobilite_km": 10.5}],
            "/situation/projets_professionnels/0/rayon_mobilite_km",
        ),
        ("situation/rqth", 1, "/situation/rqth"),
        ("situation/sans_domicile_fixe", "true", "/situation/sans_domicile_fixe"),
        (
            "diagnostic/situations",
            {"code": "logement.heberge_chez_tiers"},
            "/diagnostic/situations",
        ),
        ("coordonnees/telephones", "0612345678", "/coordonnees/telephones"),
        ("personne/nom", 12, "/personne/nom"),
        ("coordonnees", ["0612345678"], "/coordonnees"),
    ],
)
def test_value_of_the_wrong_type_is_refused(path, value, pointer):
    error = only_error(validate(carnet_with(path, value)))
    assert (error.pointer, error.code) == (pointer, "type_invalide")


def test_type_error_names_the_expected_type_in_french():
    value = [{"rayon_mobilite_km": "10"}]
    error = only_error(validate(carnet_with("situation/projets_professionnels", value)))
    assert error.message == "Type invalide : la valeur doit être un nombre entier."
    assert error.attendu == "un nombre entier"


def test_boolean_type_error_message():
    error = only_error(validate(carnet_with("situation/rqth", 1)))
    assert error.message == "Type invalide : la valeur doit être un booléen (true ou false)."


def test_type_error_message_reads_well_for_a_feminine_expectation():
    value = {"code": "logement.heberge_chez_tiers"}
    error = only_error(validate(carnet_with("diagnostic/situations", value)))
    assert error.message == "Type invalide : la valeur doit être une liste."


# -- malformed JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"personne": ', b"", b"{personne: 1}", b'{"personne": {}} x'])
def test_malformed_json_is_reported_at_the_document_root(body):
    error = only_error(validate(body))
    assert (error.pointer, error.code) == ("", "json_invalide")
    assert error.message.startswith("JSON mal formé")


def test_json_that_is_not_an_object_is_a_type_error_at_the_root():
    error = only_error(validate(b"[]"))
    assert (error.pointer, error.code) == ("", "type_invalide")


def test_malformed_json_message_is_in_french_and_gives_the_position():
    error = only_error(validate(b'{"personne": '))
    assert error.message == "JSON mal formé (ligne 1, colonne 13)."


# -- actions: code or free label ---------------------------------------------------------------


def test_action_with_a_code_is_valid():
    assert validate(
        carnet_with_action({"code": "mobilite.bourse_permis", "statut": "en_cours"})
    ).valid


def test_free_action_with_a_label_of_120_characters_is_valid():
    action = {"hors_referentiel": True, "libelle": "x" * 120, "statut": "en_cours"}
    assert validate(carnet_with_action(action)).valid


def test_action_with_both_a_code_and_hors_referentiel_is_refused():
    action = {
        "code": "mobilite.bourse_permis",
        "hors_referentiel": True,
        "libelle": "Bourse au permis de la commune",
        "statut": "en_cours",
    }
    error = only_error(validate(carnet_with_action(action)))
    assert (error.pointer, error.code) == (
        "/axes/0/objectifs/0/actions/0",
        "action_hors_referentiel",
    )
    assert error.message == "Une action hors référentiel porte un libellé et pas de code."


def test_free_action_without_a_label_is_refused():
    action = {"hors_referentiel": True, "statut": "en_cours"}
    error = only_error(validate(carnet_with_action(action)))
    assert error.code == "action_hors_referentiel"


def test_action_with_neither_code_nor_hors_referentiel_is_refused():
    error = only_error(validate(carnet_with_action({"statut": "en_cours"})))
    assert (error.pointer, error.code) == ("/axes/0/objectifs/0/actions/0", "action_code_requis")
    assert error.message == (
        "Une action porte un code du référentiel, ou « hors_referentiel » avec un libellé."
    )


def test_coded_action_with_a_free_label_is_refused():
    action = {"code": "mobilite.bourse_permis", "libelle": "Bourse", "statut": "en_cours"}
    error = only_error(validate(carnet_with_action(action)))
    assert error.code == "action_code_requis"


def test_free_action_label_over_120_characters_is_refused():
    action = {"hors_referentiel": True, "libelle": "x" * 121, "statut": "en_cours"}
    error = only_error(validate(carnet_with_action(action)))
    assert (error.pointer, error.code) == (
        "/axes/0/objectifs/0/actions/0/libelle",
        "texte_trop_long",
    )
    assert error.message == "Texte trop long : au plus 120 caractères."


def test_empty_free_action_label_is_refused():
    action = {"hors_referentiel": True, "libelle": "", "statut": "en_cours"}
    error = only_error(validate(carnet_with_action(action)))
    assert (error.pointer, error.code) == (
        "/axes/0/objectifs/0/actions/0/libelle",
        "texte_trop_court",
    )


# -- every error at once -----------------------------------------------------------------------


def test_every_error_of_a_payload_is_reported_with_its_own_pointer():
    document = minimal_carnet()
    document["personne"]["nir"] = "290049999900162"
    document["personne"]["date_naissance"] = "1990-02-30"
    document["coordonnees"] = {
        "telephones": ["12"],
        "adresse": adresse("2600"),
        "fax": "0475000000",
    }
    report = validate(document)
    assert not report.valid
    assert sorted(findings(report.errors)) == [
        ("/coordonnees/adresse/code_postal", "code_postal_invalide"),
        ("/coordonnees/fax", "champ_inconnu"),
        ("/coordonnees/telephones/0", "telephone_invalide"),
        ("/personne/date_naissance", "date_invalide"),
        ("/personne/nir", "nir_cle_invalide"),
    ]
    assert len({f.pointer for f in report.errors}) == 5


def test_every_finding_is_an_error_level_with_a_french_message():
    document = carnet_with("coordonnees/telephones", ["12"])
    document["personne"]["nir"] = "290049999900162"
    report = validate(document)
    assert {f.niveau for f in report.errors} == {"erreur"}
    assert [f.message for f in report.errors] == [NIR_MESSAGE, PHONE_MESSAGE]


def test_unknown_referential_version_is_refused():
    error = only_error(validate(carnet_with("version_referentiel", "2030.1")))
    assert (error.pointer, error.code) == ("/version_referentiel", "version_referentiel_inconnue")
    assert error.message == "Version du référentiel inconnue : « 2030.1 »."


def test_malformed_referential_version_is_refused():
    error = only_error(validate(carnet_with("version_referentiel", "2026")))
    assert (error.pointer, error.code) == ("/version_referentiel", "version_referentiel_invalide")
