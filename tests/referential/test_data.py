"""The packaged referential data against the facts of referential.md §1.4, §2, §3, §4 and §6.

Everything is read through the public API; the spec is never parsed at test time: the facts
below are copied from it by hand.
"""

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

import referential

NOMENCLATURE = ("themes", "situations", "objectifs", "actions")
PINNED_CODES = Path(__file__).with_name("published_codes_2026.1.txt")
DATA_DIR = Path(referential.__file__).parent / "data"

#: referential.md §1.4: theme → (situations, objectives, actions).
COUNTS_PER_THEME = {
    "logement": (14, 6, 12),
    "emploi": (15, 0, 46),
    "formation": (4, 0, 16),
    "difficulte_administrative": (5, 6, 20),
    "difficulte_financiere": (6, 5, 10),
    "mobilite": (13, 6, 14),
    "sante": (8, 3, 9),
    "contraintes_familiales": (7, 6, 3),
    "maitrise_langue": (5, 2, 4),
    "numerique": (11, 4, 0),
    "choisir_un_metier": (0, 4, 0),
    "se_former": (0, 2, 0),
    "preparer_sa_candidature": (0, 4, 0),
    "trouver_un_emploi": (0, 4, 0),
    "creer_une_entreprise": (0, 3, 0),
    "s_ouvrir_a_l_international": (0, 3, 0),
}

#: referential.md §1.3: the objective sub-themes and the focus they are shown under.
OBJECTIVE_GROUPS = {
    "choisir_un_metier": "emploi",
    "se_former": "formation",
    "preparer_sa_candidature": "emploi",
    "trouver_un_emploi": "emploi",
    "creer_une_entreprise": "emploi",
    "s_ouvrir_a_l_international": "emploi",
}


@pytest.fixture(scope="module")
def ref():
    return referential.current_referential()


def entry_by_label(ref, liste, libelle):
    found = [e for e in ref.entries(liste) if e.libelle == libelle]
    assert len(found) == 1, (liste, libelle, found)
    return found[0]


def theme_counts(ref, liste):
    return Counter(e.theme for e in ref.entries(liste))


# -- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("liste", "count"), [("themes", 16), ("situations", 88), ("objectifs", 58), ("actions", 134)]
)
def test_nomenclature_list_has_the_published_count(ref, liste, count):
    assert len(ref.entries(liste)) == count


def test_themes_are_the_sixteen_of_the_spec(ref):
    assert set(ref.codes("themes")) == set(COUNTS_PER_THEME)


@pytest.mark.parametrize(("theme", "counts"), COUNTS_PER_THEME.items())
def test_each_theme_holds_its_published_counts(ref, theme, counts):
    found = tuple(
        theme_counts(ref, liste)[theme] for liste in ("situations", "objectifs", "actions")
    )
    assert found == counts


# -- codes -------------------------------------------------------------------------------------


def test_every_code_of_every_list_matches_the_code_pattern(ref):
    bad = [
        (nom, e.code)
        for nom, liste in ref.lists.items()
        for e in liste.entries
        if not referential.CODE_PATTERN.match(e.code)
    ]
    assert bad == []


def test_nomenclature_codes_are_unique_across_the_four_lists(ref):
    codes = Counter(e.code for nom in NOMENCLATURE for e in ref.lists[nom].entries)
    assert [code for code, n in codes.items() if n > 1] == []


@pytest.mark.parametrize("liste", ["situations", "objectifs", "actions"])
def test_every_entry_code_starts_with_its_theme(ref, liste):
    bad = [e.code for e in ref.entries(liste) if not e.code.startswith(f"{e.theme}.")]
    assert bad == []


@pytest.mark.parametrize("liste", ["situations", "objectifs", "actions"])
def test_every_entry_belongs_to_a_known_theme(ref, liste):
    themes = set(ref.codes("themes"))
    assert {e.theme for e in ref.entries(liste)} <= themes


@pytest.mark.parametrize("liste", ["situations", "objectifs", "actions"])
def test_labels_are_unique_within_a_theme_after_normalisation(ref, liste):
    keys = Counter((e.theme, referential.normalise_label(e.libelle)) for e in ref.entries(liste))
    assert [key for key, n in keys.items() if n > 1] == []


def test_near_duplicate_labels_normalise_to_the_same_key():
    assert referential.normalise_label("Prêt  à suivre une formation") == (
        referential.normalise_label("Prêt à suivre une formation")
    )
    assert referential.normalise_label("Aidant familial (s’occuper d’un proche)") == (
        referential.normalise_label("Aidant familial (s'occuper d'un proche)")
    )


# -- themes and objective groups ---------------------------------------------------------------


@pytest.mark.parametrize(("group", "axe"), OBJECTIVE_GROUPS.items())
def test_objective_sub_theme_is_a_group_under_its_axe(ref, group, axe):
    entry = ref.list_entry("themes", group)
    assert entry is not None
    assert entry.extra.get("role") == "groupe_objectifs"
    assert entry.extra.get("axe") == axe


@pytest.mark.parametrize("group", OBJECTIVE_GROUPS)
def test_objective_sub_theme_holds_objectives_only(ref, group):
    assert theme_counts(ref, "objectifs")[group] > 0
    assert theme_counts(ref, "situations")[group] == 0
    assert theme_counts(ref, "actions")[group] == 0


def test_the_ten_focus_themes_have_role_axe(ref):
    axes = {e.code for e in ref.entries("themes") if e.extra.get("role") == "axe"}
    assert axes == set(COUNTS_PER_THEME) - set(OBJECTIVE_GROUPS)


def test_numerique_has_no_actions(ref):
    assert theme_counts(ref, "actions")["numerique"] == 0


@pytest.mark.parametrize("theme", ["emploi", "formation"])
def test_emploi_and_formation_have_no_objectives_of_their_own(ref, theme):
    assert theme_counts(ref, "objectifs")[theme] == 0


def test_emploi_axis_offers_the_objectives_of_its_five_groups(ref):
    assert set(ref.axis_objective_themes("emploi")) == {
        g for g, axe in OBJECTIVE_GROUPS.items() if axe == "emploi"
    }
    offered = [
        e for e in ref.entries("objectifs") if e.theme in ref.axis_objective_themes("emploi")
    ]
    assert len(offered) == 18


def test_formation_axis_offers_the_objectives_of_se_former(ref):
    assert ref.axis_objective_themes("formation") == ("se_former",)


def test_other_axes_offer_their_own_objectives(ref):
    assert ref.axis_objective_themes("logement") == ("logement",)


# -- data categories (legal-frame.md §8.1) -----------------------------------------------------


def test_every_category_is_one_of_the_legal_frame(ref):
    used = {e.categorie for liste in ref.lists.values() for e in liste.entries}
    assert used <= set(referential.CATEGORIES)


def test_sante_theme_itself_is_sante_handicap(ref):
    entry = ref.list_entry("themes", "sante")
    assert entry is not None
    assert entry.categorie == "sante_handicap"


@pytest.mark.parametrize("liste", ["situations", "objectifs", "actions"])
def test_every_entry_of_theme_sante_is_sante_handicap(ref, liste):
    entries = [e for e in ref.entries(liste) if e.theme == "sante"]
    assert entries
    assert {e.categorie for e in entries} == {"sante_handicap"}


@pytest.mark.parametrize(
    ("liste", "libelle", "categorie"),
    [
        ("situations", "Enfant(s) en situation de handicap", "sante_handicap"),
        ("situations", "Problématique de santé d'un enfant", "sante_handicap"),
        ("situations", "État de santé déclaré rendant incompatible la conduite", "sante_handicap"),
        ("situations", "Difficulté d’ordre juridique", "justice"),
        ("objectifs", "Prendre en compte une problématique judiciaire", "justice"),
        ("actions", "Evaluation RQTH", "sante_handicap"),
        ("actions", "Inscription à Cap emploi", "sante_handicap"),
        ("actions", "Orientation vers un ESAT", "sante_handicap"),
        ("actions", "Réalisation d’une demande APA, PCH…", "sante_handicap"),
        ("actions", "Réalisation d’une demande d’aide juridictionnelle", "justice"),
        ("actions", "Réalisation d’une demande de procédure judiciaire", "justice"),
    ],
)
def test_entry_tagged_in_the_spec_carries_its_sensitive_category(ref, liste, libelle, categorie):
    assert entry_by_label(ref, liste, libelle).categorie == categorie


@pytest.mark.parametrize(
    ("liste", "libelle", "categorie"),
    [
        ("situations", "Hébergé chez un tiers", "situation"),
        ("objectifs", "Accéder à un logement", "parcours"),
        ("actions", "Demande de logement social", "parcours"),
    ],
)
def test_untagged_entry_has_the_default_category(ref, liste, libelle, categorie):
    assert entry_by_label(ref, liste, libelle).categorie == categorie


def test_sensitive_entries_are_counted_as_in_the_spec(ref):
    counts = Counter(
        e.categorie
        for liste in ("situations", "objectifs", "actions")
        for e in ref.entries(liste)
        if e.categorie in referential.SENSITIVE_CATEGORIES
    )
    assert counts == {"sante_handicap": 29, "justice": 6}


@pytest.mark.parametrize(
    ("code_caf", "code"), [("44", "caf_hospitalisation"), ("97", "caf_beneficiaire_aah")]
)
def test_health_revealing_suspension_reasons_are_sante_handicap(ref, code_caf, code):
    row = ref.crosswalk("caf_msa", "MOTISUSVERSRSA").lookup(code_caf)
    assert row is not None
    assert row.code == code
    entry = ref.list_entry("motifs_suspension_rsa", code)
    assert entry is not None
    assert entry.categorie == "sante_handicap"


def test_other_suspension_reasons_are_not_sensitive(ref):
    sensitive = {
        e.extra["code_caf"]
        for e in ref.entries("motifs_suspension_rsa")
        if e.categorie in referential.SENSITIVE_CATEGORIES
    }
    assert sensitive == {"44", "97"}


@pytest.mark.parametrize("code", ["maladie", "invalidite"])
def test_health_revealing_work_situations_are_sante_handicap(ref, code):
    entry = ref.list_entry("situations_professionnelles", code)
    assert entry is not None
    assert entry.categorie == "sante_handicap"


# -- predecessor labels as aliases -------------------------------------------------------------


@pytest.mark.parametrize(
    ("liste", "label", "theme"),
    [
        ("situations", "Prêt  à suivre une formation", "emploi"),
        ("situations", "Prêt à suivre une formation", "formation"),
        ("situations", "Contrainte horaires", "contraintes_familiales"),
        ("situations", "Difficulté a réaliser des démarches administratives en ligne", "numerique"),
        ("situations", "Autre type de logement (hôtel, …)", "logement"),
        ("situations", "Doit quitter le logement (procédure d'expulsion, ...)", "logement"),
        ("objectifs", "Convaincre et recruter en entretien", "trouver_un_emploi"),
        (
            "objectifs",
            "S'informer sur les démarches liées au logement (budget, état des lieux… )",
            "logement",
        ),
        (
            "actions",
            "Réaliseration d’une demande pièce d’identité, titre de séjour, Etat civil…",
            "difficulte_administrative",
        ),
        (
            "actions",
            "Réalisation d'une demande de mesure de protection administrative ou juridique\"",
            "sante",
        ),
        (
            "actions",
            "Réalisation d’une demande prestation ou aide de la Sécurité sociale  "
            "(indemnité journalière… )",
            "difficulte_administrative",
        ),
        (
            "actions",
            "Réalisation d'une Déclaration Trimestrielle des Ressourcess revenues "
            "( CAF, Pôle emploi… )",
            "difficulte_administrative",
        ),
        ("actions", "Inscription permis/code de la route( auto-école, internet… )", "mobilite"),
        ("actions", "Prestation Pole emploi", "emploi"),
    ],
)
def test_predecessor_label_is_an_alias_of_exactly_one_entry(ref, liste, label, theme):
    owners = [e for e in ref.entries(liste) if label in e.alias_v1]
    assert len(owners) == 1, owners
    assert owners[0].theme == theme


@pytest.mark.parametrize("liste", ["situations", "objectifs", "actions"])
def test_every_entry_keeps_a_predecessor_label(ref, liste):
    assert [e.code for e in ref.entries(liste) if not e.alias_v1] == []


@pytest.mark.parametrize("liste", list(NOMENCLATURE))
def test_no_alias_is_shared_by_two_entries_of_a_list(ref, liste):
    aliases = Counter(alias for e in ref.entries(liste) for alias in e.alias_v1)
    assert [alias for alias, n in aliases.items() if n > 1] == []


# -- crosswalks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digit", "code"),
    [
        ("0", "rsa_demande_en_attente"),
        ("1", "rsa_refuse"),
        ("2", "rsa_droit_ouvert_versable"),
        ("3", "rsa_droit_ouvert_et_suspendu"),
        ("4", "rsa_droit_ouvert_versement_suspendu"),
        ("5", "rsa_clos"),
        ("6", "rsa_clos_anterieur"),
    ],
)
def test_caf_etatdosrsa_digit_maps_to_its_rsa_state(ref, digit, code):
    row = ref.crosswalk("caf_msa", "ETATDOSRSA").lookup(digit)
    assert row is not None
    assert row.code == code
    assert row.relation == "equivalent"


def test_caf_etatdosrsa_unknown_digit_has_no_row(ref):
    assert ref.crosswalk("caf_msa", "ETATDOSRSA").lookup("7") is None


def test_caf_etatdosrsa_covers_exactly_the_seven_rsa_states(ref):
    table = ref.crosswalk("caf_msa", "ETATDOSRSA")
    assert {row.code for row in table.lignes} == set(ref.codes("etats_droit_rsa"))
    assert len(table.lignes) == 7


@pytest.mark.parametrize(
    ("contrainte", "theme"),
    [
        ("23", "mobilite"),
        ("24", "contraintes_familiales"),
        ("25", "sante"),
        ("26", "maitrise_langue"),
        ("27", "logement"),
        ("28", "difficulte_financiere"),
        ("29", "difficulte_administrative"),
    ],
)
@pytest.mark.parametrize("version_api", ["diagnostic_v1", "diagnostic_v4"])
def test_france_travail_contrainte_maps_to_its_theme(ref, contrainte, theme, version_api):
    row = ref.crosswalk("france_travail", "contraintes", version_api).lookup(
        contrainte, version_api
    )
    assert row is not None
    assert row.code == theme


def test_france_travail_contrainte_22_exists_in_v4_only(ref):
    table = ref.crosswalk("france_travail", "contraintes")
    assert table.lookup("22", "diagnostic_v1") is None
    row = table.lookup("22", "diagnostic_v4")
    assert row is not None
    assert row.code == "numerique"


@pytest.mark.parametrize(("table", "code_partenaire"), [("situations", "46"), ("besoins", "7")])
def test_france_travail_item_without_equivalent_has_no_code(ref, table, code_partenaire):
    row = ref.crosswalk("france_travail", table).lookup(code_partenaire)
    assert row is not None
    assert row.relation == "sans_equivalent"
    assert row.code is None


@pytest.mark.parametrize(
    ("version_api", "code_partenaire"), [("diagnostic_v1", "25"), ("diagnostic_v4", "4")]
)
def test_france_travail_objectif_numbering_depends_on_api_version(
    ref, version_api, code_partenaire
):
    row = ref.crosswalk("france_travail", "objectifs", version_api).lookup(code_partenaire)
    assert row is not None
    assert row.code == "mobilite.faire_point_complet_mobilite"
    entry = ref.entry(row.code)
    assert entry is not None
    assert entry.libelle == "Faire un point complet sur sa mobilité"


def test_france_travail_objectif_numbers_mean_different_things_per_api_version(ref):
    v1 = ref.crosswalk("france_travail", "objectifs", "diagnostic_v1").lookup("4")
    v4 = ref.crosswalk("france_travail", "objectifs", "diagnostic_v4").lookup("25")
    assert v1 is not None
    assert v4 is not None
    assert v1.code != v4.code
    assert v1.code != "mobilite.faire_point_complet_mobilite"


def test_every_crosswalk_target_code_exists_in_its_target_list(ref):
    missing = [
        (table.partenaire, table.table, row.code_partenaire, row.code)
        for table in ref.crosswalks
        for row in table.lignes
        if row.code is not None and ref.list_entry(table.cible, row.code) is None
    ]
    assert missing == []


def test_crosswalk_rows_have_a_code_unless_without_equivalent(ref):
    incoherent = [
        (table.table, row.code_partenaire)
        for table in ref.crosswalks
        for row in table.lignes
        if (row.code is None) != (row.relation == "sans_equivalent")
    ]
    assert incoherent == []


# -- published codes are never removed ---------------------------------------------------------


def pinned_codes():
    lines = PINNED_CODES.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines]


def test_pinned_codes_file_is_sorted_and_without_duplicates():
    lines = PINNED_CODES.read_text(encoding="utf-8").splitlines()
    assert lines
    assert lines == sorted(set(lines))
    assert all(len(line.split("\t")) == 2 for line in lines)


def test_every_code_published_in_2026_1_is_still_in_its_list(ref):
    problems = []
    for liste, code in pinned_codes():
        if liste not in ref.lists:
            problems.append((liste, code, "liste disparue"))
            continue
        entry = ref.list_entry(liste, code)
        if entry is None or not entry.published_in(ref.current):
            problems.append((liste, code, "code retiré"))
        elif entry.deprecated_in(ref.current) and not entry.remplace_par:
            problems.append((liste, code, "déprécié sans remplacement"))
    assert problems == []


def test_codes_of_version_2026_1_are_exactly_the_pinned_ones(ref):
    current = {(liste, code) for liste in ref.lists for code in ref.codes(liste, "2026.1")}
    assert current == set(pinned_codes())


# -- publication rules on broken data ----------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def read_yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_yaml(path, document):
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def add_version(data_dir, version):
    path = data_dir / "referentiel.yaml"
    meta = read_yaml(path)
    meta["versions"].append(
        {"version": version, "publiee_le": "2027-06-01", "statut": "a_venir", "notes": "Essai."}
    )
    write_yaml(path, meta)


def test_an_unmodified_copy_of_the_data_loads(data_dir):
    loaded = referential.load_referential(data_dir)
    assert len(loaded.entries("actions")) == 134


def test_duplicate_code_in_a_list_is_refused(data_dir):
    path = data_dir / "situations.yaml"
    document = read_yaml(path)
    twin = dict(document["entrees"][0], libelle="Un autre libellé")
    document["entrees"].append(twin)
    write_yaml(path, document)
    with pytest.raises(referential.ReferentialDataError, match="code en double"):
        referential.load_referential(data_dir)


def test_code_used_in_two_lists_is_refused(data_dir):
    situations = read_yaml(data_dir / "situations.yaml")
    code = situations["entrees"][0]["code"]
    path = data_dir / "actions.yaml"
    document = read_yaml(path)
    document["entrees"][0]["code"] = code
    document["entrees"][0]["theme"] = code.split(".")[0]
    write_yaml(path, document)
    with pytest.raises(referential.ReferentialDataError, match=re.escape(repr(code))):
        referential.load_referential(data_dir)


def test_deprecated_code_without_replacement_is_refused(data_dir):
    add_version(data_dir, "2026.2")
    path = data_dir / "objectifs.yaml"
    document = read_yaml(path)
    document["entrees"][0]["deprecie_en"] = "2026.2"
    write_yaml(path, document)
    with pytest.raises(referential.ReferentialDataError, match="déprécié sans remplacement"):
        referential.load_referential(data_dir)


def test_deprecated_code_with_replacement_loads(data_dir):
    add_version(data_dir, "2026.2")
    path = data_dir / "objectifs.yaml"
    document = read_yaml(path)
    document["entrees"][0]["deprecie_en"] = "2026.2"
    document["entrees"][0]["remplace_par"] = [document["entrees"][1]["code"]]
    write_yaml(path, document)
    loaded = referential.load_referential(data_dir)
    deprecated = loaded.deprecated_codes("objectifs", "2026.2")
    assert list(deprecated) == [document["entrees"][0]["code"]]
    assert loaded.deprecated_codes("objectifs", "2026.1") == {}


def test_crosswalk_to_an_unknown_code_is_refused(data_dir):
    path = data_dir / "correspondances" / "france_travail.yaml"
    document = read_yaml(path)
    situations = next(t for t in document["tables"] if t["table"] == "situations")
    situations["lignes"][0]["code"] = "mobilite.code_qui_n_existe_pas"
    write_yaml(path, document)
    with pytest.raises(
        referential.ReferentialDataError, match=re.escape("mobilite.code_qui_n_existe_pas")
    ):
        referential.load_referential(data_dir)
