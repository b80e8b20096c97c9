"""Fixtures of the gateway tests: the same suite runs on SQLite and on a real PostgreSQL server.

PostgreSQL is the machine's local service; ``CARNET_TEST_POSTGRES_URL`` names another server.
Each test run creates its own database there and drops it at the end.
"""

import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import create_engine, func, text
from sqlmodel import col, select

from gateway.agents.service import reserve_agent
from gateway.app import create_app
from gateway.habilitation import load_matrix
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables import JournalEntry

#: The keys sealing the subscriptions' secrets, for the apps, the workers and the commands the
#: tests start (else each would create the key file of the data directory, var/cles_secrets).
TEST_KEYS = "essai:" + "A" * 43 + "="
os.environ.setdefault("CARNET_CLES_SECRETS", TEST_KEYS)

POSTGRES_URL = os.environ.get(
    "CARNET_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: Tables emptied between tests (the signing keys are kept: generating one is slow).
TABLES = (
    "imports",
    "imports_suivi",
    "connecteurs_sante",
    "connecteurs_suivi",
    "journal",
    "groupe_suivi",
    "rattachements",
    "agents",
    "identification_echecs",
    "idempotence",
    "changements",
    "changements_horizon",
    "abonnements",
    "livraisons",
    "conflits_identite",
    "identifiants",
    "carnets_etats",
    "carnets_libelles",
    "carnets",
    "clients",
    "derogations",
    "organisations",
)
BASE_URL = "http://localhost"


def _postgres_database(revision: str = "head") -> Iterator[Database]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"carnet_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # pragma: no cover - the message is the point
        pytest.fail(
            f"PostgreSQL is required by the test suite and is not reachable at {POSTGRES_URL}: "
            f"{error}",
            pytrace=False,
        )
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    database = Database(url)
    database.migrate(revision)
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh_database(dialect: str, directory, revision: str = "head") -> Iterator[Database]:
    """A database of its own on ``dialect``, migrated up to ``revision``."""
    if dialect == "sqlite":
        database = Database(f"sqlite:///{directory / 'carnet.db'}")
        database.migrate(revision)
        yield database
        database.dispose()
    else:
        yield from _postgres_database(revision)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory) -> Iterator[Database]:
    yield from fresh_database(request.param, tmp_path_factory.mktemp("db"))


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    yield database
    with database.write() as session:
        for table in TABLES:
            session.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def settings() -> Settings:
    return Settings(environment="test", issuer=BASE_URL)


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[object]:
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        yield application


#: Journal outcomes that answer no request of their own: refusals (and ``refuse:<code>``),
#: alerts, replays (not counted as accesses below), the referent designated by an
#: orientation decision (a second change of the same write), and the notebooks a search named
#: (one entry each beside the search's own).
NOT_SERVED = ("hors_besoin", "seuil_echecs_identification", "orientation", "rejeu", "liste")
#: Routes that touch personal data: every successful call must leave one journal entry.
PERSONAL_DATA = re.compile(r"^/v1/(carnets|changements|journal)(/|$)")


@pytest.fixture
async def client(app, db) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app; at the end of the test, checks that every successful access to
    personal data was journaled, once (a test calling another app on the same database adds its
    accesses to ``client.accesses``)."""
    accesses = []

    async def record(response: httpx.Response) -> None:
        if (
            PERSONAL_DATA.match(response.request.url.path)
            and (200 <= response.status_code < 300 or response.status_code == 304)
            and "idempotent-replayed" not in response.headers
        ):
            accesses.append(f"{response.request.method} {response.request.url.path}")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, event_hooks={"response": [record]}
    ) as client:
        client.accesses = accesses
        #: The first département registered per territory (it decides join requests).
        client.departements = {}
        yield client
    with db.read() as session:
        journaled = session.exec(
            select(func.count())
            .select_from(JournalEntry)
            .where(
                col(JournalEntry.resultat).not_in(NOT_SERVED),
                col(JournalEntry.resultat).not_like("refuse:%"),
            )
        ).one()
    assert journaled == len(accesses), (
        f"{len(accesses)} successful accesses to personal data, {journaled} journal entries"
    )


@dataclass
class Partner:
    """An organisation with one client and a valid access token."""

    organisation_id: str
    client_id: str
    secret: str
    token: str
    type_acteur: str = "departement"
    #: An agent of the organisation habilitated for the categories the matrix reserves to the
    #: referent (the tests act through it unless they say otherwise: ``without_agent``).
    agent: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The token, the first purpose the matrix opens to the partner's actor kind, and its
        agent."""
        headers = self.without_agent
        if self.agent is not None:
            headers["Agent"] = self.agent
        return headers

    @property
    def without_agent(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        purposes = load_matrix().actor(self.type_acteur).finalites
        if purposes:
            headers["Finalite"] = purposes[0]
        return headers


@pytest.fixture
def partner(db: Database, client: httpx.AsyncClient) -> Callable[..., object]:
    """Factory: ``await partner("departement", ["26"])`` registers an organisation and a client."""

    async def make(type_acteur: str = "departement", territoires=("26",), nom=None) -> Partner:
        with db.write() as session:
            organisation = create_organisation(
                session,
                nom=nom or f"{type_acteur} {uuid.uuid4().hex[:6]}",
                type_acteur=type_acteur,
                # A software publisher has the sandbox territory only.
                territoires=[] if type_acteur == "editeur_logiciel" else list(territoires),
            )
            created = create_client(session, organisation_id=organisation.id, nom="si")
            agent = reserve_agent(
                session,
                organisation.id,
                type_acteur,
                nom="Agent habilité",
                courriel="agent@example.org",
            )
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created.client.client_id, created.secret),
        )
        assert response.status_code == 200, response.text
        made = Partner(
            organisation_id=organisation.id,
            client_id=created.client.client_id,
            secret=created.secret,
            token=response.json()["access_token"],
            type_acteur=type_acteur,
            agent=agent,
        )
        if type_acteur == "departement":
            for territoire in territoires:
                client.departements.setdefault(territoire, made)
        return made

    return make


@pytest.fixture(scope="session")
def public_database(tmp_path_factory) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('public') / 'carnet.db'}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
async def public_client(
    settings: Settings, public_database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the public, database-free routes (referential, schemas, health)."""
    application = create_app(settings, database=public_database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client
