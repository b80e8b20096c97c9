"""``carnet connectors run``: a batch over a territory, with a progress bar and a summary."""

import json
import uuid
from typing import ClassVar

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from connectors import (
    PullOutcome,
    PullResult,
    Registry,
    UpstreamConfiguration,
    UpstreamRefused,
    UpstreamUnavailable,
)
from gateway.cli import app as cli
from gateway.connectors import batch, loader
from gateway.notebooks.service import NotebookService
from gateway.organisations.service import create_client, create_organisation
from gateway.storage.database import Database
from gateway.storage.tables import ConnectorHealth, JournalEntry, NotebookRow
from tests.gateway.fake_connector import FakeConnector, dossier
from tests.gateway.payloads import NIR_A, NIR_B, carnet, personne

runner = CliRunner()
SITUATION = "mobilite.aucun_moyen_transport_disposition"


class Scripted(FakeConnector):
    """The batch loads its own connector: the script is set on the class."""

    results: ClassVar[list] = []
    #: The requests of every instance, in order.
    calls: ClassVar[list] = []

    def __init__(self, settings):
        super().__init__(settings)
        self.answer(*type(self).results)

    async def pull(self, request):
        type(self).calls.append(request)
        return await super().pull(request)


@pytest.fixture
def territory(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'carnet.db'}"
    database = Database(url)
    database.migrate()
    with database.write() as session:
        ft = create_organisation(
            session, nom="FT", type_acteur="france_travail", territoires=["26"]
        )
        client = create_client(session, organisation_id=ft.id, nom="connecteur").client
        cd = create_organisation(session, nom="CD", type_acteur="departement", territoires=["26"])
        cd_client = create_client(session, organisation_id=cd.id, nom="si").client
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    monkeypatch.setenv("CARNET_CONNECTEURS", json.dumps({"faux": {"26": client.client_id}}))
    registry = Registry()
    registry.register(Scripted)
    monkeypatch.setattr(loader, "connector_registry", lambda: registry)
    monkeypatch.setattr(Scripted, "calls", [])
    yield database, cd_client.client_id, cd.id
    database.dispose()


def seed(database, cd_client, cd_organisation, nirs):
    from gateway.auth.principal import Principal
    from gateway.habilitation import load_matrix
    from gateway.habilitation.guard import Guard
    from referential import default_validator

    matrix = load_matrix()
    principal = Principal(
        client_id=cd_client,
        organisation_id=cd_organisation,
        type_acteur="departement",
        territoires=("26",),
        scopes=frozenset(matrix.actor("departement").scopes),
    )
    for index, nir in enumerate(nirs):
        with database.write() as session:
            service = NotebookService(
                session, default_validator(), Guard(matrix, principal, "accompagnement")
            )
            document = carnet(personne(nom=f"Exemple{index}", nir=nir))
            service.create_or_find(json.dumps(document).encode())


def test_a_batch_pulls_every_notebook_of_the_territory_and_sums_up(territory):
    database, cd_client, cd_organisation = territory
    seed(database, cd_client, cd_organisation, [NIR_A, NIR_B, None])
    Scripted.results = [
        dossier("h1", situations=[{"code": SITUATION}]),
        PullResult(PullOutcome.NOT_FOUND),
    ]
    result = runner.invoke(cli, ["connectors", "run", "faux", "--territoire", "26"])
    assert result.exit_code == 0, result.output
    assert "Bilan : 3 carnet(s)" in result.output
    assert "applique=1" in result.output
    assert "introuvable=1" in result.output
    assert "identite_incomplete=1" in result.output
    with database.read() as session:
        versions = sorted(session.exec(select(NotebookRow.version)))
        health = session.get(ConnectorHealth, "faux")
    assert versions == [1, 1, 2]
    assert health is not None
    assert health.appels == 3
    with database.read() as session:
        journal = session.exec(
            select(JournalEntry.resultat).where(JournalEntry.action == "synchronisation")
        )
        # A batch journals what left the gateway: nothing for an incomplete identity.
        assert sorted(journal) == ["applique", "introuvable"]


def test_failures_are_counted_and_make_the_exit_code(territory):
    database, cd_client, cd_organisation = territory
    seed(database, cd_client, cd_organisation, [NIR_A])
    Scripted.results = [UpstreamUnavailable("Indisponible.")]
    result = runner.invoke(cli, ["connectors", "run", "faux", "--territoire", "26"])
    assert result.exit_code == 1
    assert "echec:amont_indisponible=1" in result.output


def test_a_territory_where_the_connector_is_not_enabled_is_refused(territory):
    result = runner.invoke(cli, ["connectors", "run", "faux", "--territoire", "07"])
    assert result.exit_code == 1
    assert "non activé" in result.output


def test_an_unknown_connector_is_refused(territory, monkeypatch):
    monkeypatch.setenv("CARNET_CONNECTEURS", json.dumps({"absent": {"26": uuid.uuid4().hex}}))
    result = runner.invoke(cli, ["connectors", "run", "absent", "--territoire", "26"])
    assert result.exit_code == 1
    assert "non installé" in result.output


def test_serve_stops_when_an_enabled_connector_cannot_load(territory, monkeypatch):
    monkeypatch.setenv("CARNET_CONNECTEURS", json.dumps({"absent": {"26": "x"}}))
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "Démarrage impossible" in result.output
    assert "« absent » activé mais non installé" in result.output


def test_serve_names_the_missing_settings_of_the_france_travail_connector(territory, monkeypatch):
    monkeypatch.setattr(loader, "connector_registry", Registry.discover)
    monkeypatch.setenv("CARNET_CONNECTEURS", json.dumps({"france_travail": {"26": "x"}}))
    monkeypatch.delenv("CARNET_FT_CLIENT_ID", raising=False)
    monkeypatch.delenv("CARNET_FT_CLIENT_SECRET", raising=False)
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "CARNET_FT_CLIENT_ID" in result.output
    assert "CARNET_FT_CLIENT_SECRET" in result.output


@pytest.mark.parametrize(
    "error",
    [
        UpstreamConfiguration("Jeton refusé : invalid_client."),
        UpstreamRefused("Accès refusé (R001) : abonnement ou habilitation."),
    ],
)
def test_an_error_only_an_operator_can_fix_stops_the_batch(territory, error):
    database, cd_client, cd_organisation = territory
    seed(database, cd_client, cd_organisation, [NIR_A, NIR_B])
    Scripted.results = [error, dossier("h1", situations=[{"code": SITUATION}])]
    result = runner.invoke(cli, ["connectors", "run", "faux", "--territoire", "26"])
    assert result.exit_code == 1
    assert len(Scripted.calls) == 1
    assert "Lot arrêté" in result.output
    assert f"echec:{error.code}=1" in result.output
    assert "non_parcourus=1" in result.output


def test_a_notebook_the_partner_asks_to_come_back_for_is_tried_once_more(territory, monkeypatch):
    database, cd_client, cd_organisation = territory
    seed(database, cd_client, cd_organisation, [NIR_A, NIR_B])
    pauses = []

    async def pause(seconds):
        pauses.append(seconds)

    monkeypatch.setattr(batch, "batch_pause", pause)
    Scripted.results = [
        UpstreamUnavailable("Trop de requêtes.", retry_after=5),
        dossier("h1", situations=[{"code": SITUATION}]),
        UpstreamUnavailable("Trop de requêtes.", retry_after=3600),
        UpstreamUnavailable("Trop de requêtes.", retry_after=3600),
    ]
    result = runner.invoke(cli, ["connectors", "run", "faux", "--territoire", "26"])
    assert result.exit_code == 1, result.output
    assert pauses == [5, batch.BATCH_RETRY_AFTER_CAP_SECONDS]
    assert len(Scripted.calls) == 4
    assert "applique=1" in result.output
    assert "echec:amont_indisponible=1" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["connectors", "run", "inconnu", "--territoire", "26"],
        ["import", "caf-msa", "flux.xml", "--client", "cli_x"],
    ],
)
def test_a_connector_that_cannot_load_stops_the_command_with_its_reason(
    tmp_path, monkeypatch, command
):
    monkeypatch.setenv("CARNET_DATABASE_URL", f"sqlite:///{tmp_path / 'carnet.db'}")
    monkeypatch.setenv("CARNET_CONNECTEURS", json.dumps({"inconnu": {"26": "cli_x"}}))
    (tmp_path / "flux.xml").write_bytes(b"<x/>")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, command)
    assert result.exit_code == 1, result.output
    assert "Connecteurs :" in result.output
    assert "inconnu" in result.output
