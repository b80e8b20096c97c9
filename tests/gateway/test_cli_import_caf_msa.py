"""``carnet import caf-msa FILE``: the same import as the API, with a progress bar and a summary."""

import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from gateway.auth.principal import Principal
from gateway.cli import app as cli
from gateway.habilitation import load_matrix
from gateway.habilitation.guard import Guard
from gateway.notebooks.service import NotebookService
from gateway.organisations.service import create_client, create_organisation
from gateway.storage.database import Database
from gateway.storage.tables import ImportJob, NotebookRow
from referential import default_validator
from tests.connectors.caf_msa.flux import sample
from tests.gateway.payloads import carnet, personne

runner = CliRunner()


@pytest.fixture
def territory(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'carnet.db'}"
    database = Database(url)
    database.migrate()
    with database.write() as session:
        caf = create_organisation(session, nom="CAF", type_acteur="caf_msa", territoires=["26"])
        caf_client = create_client(session, organisation_id=caf.id, nom="connecteur").client
        cd = create_organisation(session, nom="CD", type_acteur="departement", territoires=["26"])
        cd_client = create_client(session, organisation_id=cd.id, nom="si").client
        association = create_organisation(
            session, nom="Asso", type_acteur="structure_insertion", territoires=["26"]
        )
        association_client = create_client(session, organisation_id=association.id, nom="si").client
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    monkeypatch.setenv("CARNET_CONNECTEURS", json.dumps({"caf_msa": {"26": caf_client.client_id}}))
    monkeypatch.setenv("CARNET_IMPORTS_DOSSIER", str(tmp_path / "spool"))
    matrix = load_matrix()
    principal = Principal(
        client_id=cd_client.client_id,
        organisation_id=cd.id,
        type_acteur="departement",
        territoires=("26",),
        scopes=frozenset(matrix.actor("departement").scopes),
    )
    with database.write() as session:
        service = NotebookService(
            session, default_validator(), Guard(matrix, principal, "accompagnement")
        )
        document = carnet(personne(nom="Exemple", nir="2900499999001", date_naissance="1990-04-15"))
        service.create_or_find(json.dumps(document).encode())
    yield database, cd_client.client_id, association_client.client_id, tmp_path
    database.dispose()


def test_import_with_a_summary_and_no_personal_data(territory):
    database, cd_client, _, tmp_path = territory
    path = tmp_path / "RSABEM.xml"
    path.write_bytes(sample())
    result = runner.invoke(cli, ["import", "caf-msa", str(path), "--client", cd_client])
    assert result.exit_code == 0, result.output
    assert "termine (accepte_avec_rejets)" in result.output
    assert "appliquees=1" in result.output
    assert "non_trouvees=2" in result.output
    assert "rejet foyer 1, personne 2, ligne 25 : personne_non_trouvee" in result.output
    for secret in ("2900499999001", "1880999999002", "EXEMPLE", "999000000001234"):
        assert secret not in result.output
    with database.read() as session:
        (version,) = session.exec(select(NotebookRow.version)).all()
        jobs = session.exec(select(ImportJob.statut)).all()
    assert version == 2
    assert jobs == ["termine"]
    again = runner.invoke(cli, ["import", "caf-msa", str(path), "--client", cd_client])
    assert again.exit_code == 0, again.output
    assert "termine (deja_importe)" in again.output


def test_a_rejected_file_and_an_uploader_without_the_right(territory):
    _, cd_client, association_client, tmp_path = territory
    path = tmp_path / "broken.xml"
    path.write_bytes(sample().replace(b"</Racine>", b""))
    result = runner.invoke(cli, ["import", "caf-msa", str(path), "--client", cd_client])
    assert result.exit_code == 1
    assert "rejete (rejete)" in result.output
    assert "xml_mal_forme" in result.output
    refused = runner.invoke(cli, ["import", "caf-msa", str(path), "--client", association_client])
    assert refused.exit_code == 2
    assert "Import refusé" in refused.output
