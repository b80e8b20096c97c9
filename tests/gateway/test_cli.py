import json

import pytest
from typer.testing import CliRunner

import referential
from gateway.cli import app

runner = CliRunner()

VALID = {"personne": {"nom": "Exemple", "prenom": "Héloïse", "date_naissance": "1990-04-15"}}


def write(path, content):
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_valid_json_file_exits_0(tmp_path):
    result = runner.invoke(
        app, ["validate", write(tmp_path / "c.json", json.dumps(VALID)), "-k", "carnet"]
    )
    assert result.exit_code == 0, result.output
    assert "1 valide(s), 0 invalide(s)" in result.output


def test_invalid_json_file_prints_every_error_with_its_pointer_and_exits_1(tmp_path):
    payload = {"personne": {"nom": "", "prenom": "A", "date_naissance": "1990-02-30", "x": 1}}
    result = runner.invoke(
        app, ["validate", write(tmp_path / "c.json", json.dumps(payload)), "-k", "carnet"]
    )
    assert result.exit_code == 1
    assert "/personne/nom : [erreur] texte_trop_court" in result.output
    assert "/personne/date_naissance : [erreur] date_invalide" in result.output
    assert "/personne/x : [erreur] champ_inconnu" in result.output


def test_ndjson_findings_carry_their_line_number(tmp_path):
    lines = [json.dumps(VALID), "", json.dumps({"nom": "x"}), "{pas du json"]
    path = write(tmp_path / "lot.ndjson", "\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", path, "--kind", "carnet"])
    assert result.exit_code == 1
    assert "ligne 3 /personne : [erreur] champ_obligatoire" in result.output
    assert "ligne 4 / : [erreur] json_invalide" in result.output
    assert "3 contenu(s) « carnet » : 1 valide(s), 2 invalide(s)" in result.output


def test_json_output_has_one_report_per_payload(tmp_path):
    path = write(tmp_path / "lot.jsonl", json.dumps(VALID) + "\n" + json.dumps({"nom": 1}) + "\n")
    result = runner.invoke(app, ["validate", path, "-k", "carnet", "--json"])
    reports = [json.loads(line) for line in result.output.splitlines()]
    assert [r["valide"] for r in reports] == [True, False]
    assert reports[1]["erreurs"][0]["ligne"] == 2


def test_warnings_do_not_fail_validation(tmp_path):
    payload = {
        **VALID,
        "axes": [
            {
                "theme": "emploi",
                "objectifs": [{"code": "logement.acceder_logement", "statut": "en_cours"}],
            }
        ],
    }
    result = runner.invoke(
        app, ["validate", write(tmp_path / "c.json", json.dumps(payload)), "-k", "carnet"]
    )
    assert result.exit_code == 0
    assert "[avertissement] objectif_hors_axe" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "absent.json", "-k", "carnet"], "Fichier introuvable"),
        (["validate", "absent.json", "-k", "inconnu"], "Type inconnu"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_schemas_export_writes_one_file_per_kind(tmp_path):
    result = runner.invoke(app, ["schemas", "export", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    assert len(list((tmp_path / "2026.1").glob("*.json"))) == len(referential.PAYLOAD_KINDS)


def test_schemas_check_fails_on_drift(tmp_path):
    runner.invoke(app, ["schemas", "export", "--dir", str(tmp_path)])
    (tmp_path / "2026.1" / "carnet.json").write_text("{}", encoding="utf-8")
    result = runner.invoke(app, ["schemas", "export", "--dir", str(tmp_path), "--check"])
    assert result.exit_code == 1
    assert "carnet" in result.output
