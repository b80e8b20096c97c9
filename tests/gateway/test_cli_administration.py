"""Administration with the CLI: organisations, clients, secrets and signing keys."""

import httpx
import pytest
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.cli import app as cli
from gateway.settings import Settings
from gateway.storage.database import Database
from tests.gateway.conftest import BASE_URL

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'carnet.db'}"
    Database(url).migrate()
    monkeypatch.setenv("CARNET_DATABASE_URL", url)
    return url


def run(*args):
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def values(output):
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


async def token_status(url, client_id, secret):
    application = create_app(Settings(database_url=url, environment="test", issuer=BASE_URL))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
    application.state.gateway.database.dispose()
    return response.status_code


async def test_a_rotated_secret_replaces_the_old_one(database_url):
    code, organisation = run(
        "organisations", "create", "--nom", "CD", "--type", "departement", "--territoire", "26"
    )
    assert code == 0, organisation
    code, output = run("clients", "create", "--organisation", organisation.strip())
    first = values(output)
    code, output = run("clients", "rotate-secret", "--client", first["client_id"])
    assert code == 0, output
    second = values(output)["client_secret"]
    assert second != first["client_secret"]
    assert await token_status(database_url, first["client_id"], second) == 200
    assert await token_status(database_url, first["client_id"], first["client_secret"]) == 401


async def test_disabled_clients_and_organisations_get_no_token(database_url):
    _, organisation = run(
        "organisations", "create", "--nom", "CD", "--type", "departement", "--territoire", "26"
    )
    organisation = organisation.strip()
    created = values(run("clients", "create", "--organisation", organisation)[1])
    client_id, secret = created["client_id"], created["client_secret"]
    assert run("clients", "disable", "--client", client_id)[0] == 0
    assert await token_status(database_url, client_id, secret) == 401
    assert run("clients", "enable", "--client", client_id)[0] == 0
    assert await token_status(database_url, client_id, secret) == 200
    assert run("organisations", "disable", "--organisation", organisation)[0] == 0
    assert await token_status(database_url, client_id, secret) == 401


def test_unknown_ids_exit_2_with_the_reason(database_url):
    code, output = run("clients", "disable", "--client", "inconnu")
    assert code == 2
    assert "client inconnu" in output


async def test_keys_rotate_list_and_retire(database_url):
    # The first key is created by the first start of the gateway.
    assert await token_status(database_url, "x", "y") == 401
    first = run("keys", "list")[1].split()[0]
    code, output = run("keys", "rotate")
    assert code == 0
    second = values(output)["kid"]
    listed = run("keys", "list")[1]
    assert listed.splitlines()[0] == f"{second} (signe)"
    assert first in listed
    code, output = run("keys", "retire", second)
    assert code == 2, "the signing key cannot be retired"
    assert run("keys", "retire", first)[0] == 0
    assert first not in run("keys", "list")[1]


def test_overrides_are_recorded_with_who_and_why(database_url):
    organisation = run(
        "organisations", "create", "--nom", "ML", "--type", "mission_locale", "--territoire", "26"
    )[1].strip()
    common = ("--organisation", organisation, "--categorie", "sante_handicap")
    who = ("--motif", "Convention 2026-12", "--auteur", "DPO")
    code, output = run("habilitations", "accorder", *common, "--droit", "export", *who)
    assert code == 2
    assert "garanties" in output
    code, _ = run(
        "habilitations",
        "accorder",
        *common,
        "--droit",
        "export",
        *who,
        "--garanties",
        "Chiffrement",
    )
    assert code == 0
    assert run("habilitations", "retirer", *common, "--droit", "ecriture", *who)[0] == 0
    assert run("habilitations", "lever", *common, "--droit", "export")[0] == 0
    history = run("habilitations", "derogations", "--organisation", organisation)[1]
    lines = history.splitlines()
    assert "accorde export sante_handicap (levée le" in lines[0]
    assert "retire ecriture sante_handicap (active) par DPO : Convention 2026-12" in lines[1]


def test_the_demo_seeds_its_notebooks_once_and_renews_its_secrets(database_url):
    from sqlmodel import select

    from gateway.demo import seed
    from gateway.storage.tables import NotebookRow
    from referential import default_validator

    database = Database(database_url)
    first = seed(database, default_validator(), notebooks=3)
    again = seed(database, default_validator(), notebooks=3)
    with database.read() as session:
        notebooks = session.exec(select(NotebookRow)).all()
    assert len(notebooks) == 3
    assert {c.client_id for c in first} == {c.client_id for c in again}
    assert {c.client_secret for c in first}.isdisjoint({c.client_secret for c in again})
    database.dispose()


async def test_a_national_operator_is_an_operator_client_flagged_by_the_command_line(
    database_url,
):
    organisation = run(
        "organisations", "create", "--nom", "DGCS", "--type", "administration", "--territoire", "75"
    )[1].strip()
    code, output = run("clients", "create", "--organisation", organisation, "--national")
    assert code == 2
    assert "seul un client opérateur peut être national" in output
    code, output = run(
        "clients", "create", "--organisation", organisation, "--operateur", "--national"
    )
    assert code == 0, output
    created = values(output)
    application = create_app(
        Settings(database_url=database_url, environment="test", issuer=BASE_URL)
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            token = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(created["client_id"], created["client_secret"]),
            )
            registered = await client.post(
                "/v1/admin/organisations",
                json={"nom": "CAF de la Drôme", "type_acteur": "caf_msa", "territoires": ["26"]},
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
    application.state.gateway.database.dispose()
    assert registered.status_code == 201, registered.text


def test_agents_are_declared_habilitated_and_disabled(database_url):
    organisation = run(
        "organisations", "create", "--nom", "CCAS", "--type", "ccas_cias", "--territoire", "26"
    )[1].strip()
    code, agent = run(
        "agents", "create", "--organisation", organisation, "--nom", "Agent",
        "--courriel", "agent@example.org", "--role", "travailleur social",
        "--habilitation", "justice",
    )  # fmt: skip
    assert code == 0, agent
    agent = agent.strip()
    assert run("agents", "list", "--organisation", organisation)[1].split("\t")[:3] == [
        agent,
        "actif",
        "justice",
    ]
    code, output = run("agents", "habiliter", "--agent", agent, "--habilitation", "identite")
    assert code == 2
    assert "sante_handicap" in output
    assert run("agents", "habiliter", "--agent", agent, "--habilitation", "sante_handicap")[0] == 0
    assert run("agents", "disable", "--agent", agent)[0] == 0
    assert run("agents", "list", "--organisation", organisation)[1].split("\t")[1:3] == [
        "inactif",
        "sante_handicap",
    ]
    assert run("agents", "disable", "--agent", "inconnu")[0] == 2


def test_only_an_operator_client_is_the_dpos(database_url):
    organisation = run(
        "organisations", "create", "--nom", "CD", "--type", "departement", "--territoire", "26"
    )[1].strip()
    code, output = run("clients", "create", "--organisation", organisation, "--dpo")
    assert code == 2
    assert "opérateur" in output
    code, output = run("clients", "create", "--organisation", organisation, "--operateur", "--dpo")
    assert code == 0, output
