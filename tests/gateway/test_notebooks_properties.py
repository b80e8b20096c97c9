"""Merge properties, checked through HTTP on generated contributions: a few examples end to
end, on top of the hundreds ``test_merge_properties.py`` checks on the pure functions.

Hypothesis calls a property many times within one test, so each property is a sync test that
runs its HTTP scenario with ``asyncio.run`` on a client of its own, and works on fresh notebooks
in every example (the database is only emptied between tests).
"""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.organisations.service import create_client, create_organisation
from gateway.storage import agents
from referential import current_referential
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import body, carnet, personne

PROPERTY_SETTINGS = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
#: Two sources that may both write every section the examples draw (two départements).
SOURCES = ("departement", "autre_departement")
SITUATIONS = current_referential().codes("situations")
EVENT_TYPES = current_referential().codes("types_evenement")
DROITS = ("are", "ass", "prime_activite")

# -- generated contributions ------------------------------------------------------------------

past_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2025, 12, 31)).map(date.isoformat)
past_moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
situations = st.fixed_dictionaries(
    {"code": st.sampled_from(SITUATIONS)}, optional={"depuis": past_dates}
)
events = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,15}", fullmatch=True),
        "type": st.sampled_from(EVENT_TYPES),
        "date": past_moments,
        "libelle": st.text(
            st.characters(categories=["L", "N"], codec="utf-8"), min_size=1, max_size=30
        ),
    }
)


def droits(names=DROITS):
    return st.fixed_dictionaries({}, optional={name: st.booleans() | st.none() for name in names})


def contributions(droit_names=DROITS, *, distinct_items=True):
    """Contributions; with ``distinct_items``, situations unique by code and events by id."""
    return st.fixed_dictionaries(
        {},
        optional={
            "observe_le": past_moments,
            "droits": droits(droit_names),
            "diagnostic": st.fixed_dictionaries(
                {
                    "situations": st.lists(
                        situations,
                        max_size=5,
                        unique_by=(lambda s: s["code"]) if distinct_items else None,
                    )
                }
            ),
            "evenements": st.lists(
                events, max_size=4, unique_by=(lambda e: e["id"]) if distinct_items else None
            ),
        },
    )


@st.composite
def disjoint_droits(draw):
    """The rights of two contributions, split so that no right is in both."""
    owners = draw(st.lists(st.booleans(), min_size=len(DROITS), max_size=len(DROITS)))
    first = tuple(name for name, mine in zip(DROITS, owners, strict=True) if mine)
    second = tuple(name for name, mine in zip(DROITS, owners, strict=True) if not mine)
    return first, second


# -- the API, one client per example ----------------------------------------------------------


@dataclass
class Api:
    app: Any
    headers: dict[str, dict[str, str]]
    names: itertools.count

    def run(self, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
        async def main() -> None:
            async with self.app.router.lifespan_context(self.app):
                transport = httpx.ASGITransport(app=self.app)
                async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                    await scenario(client)

        asyncio.run(main())

    async def new_notebook(self, client, source):
        """A notebook of a person no other example uses."""
        document = carnet(personne(nom=f"Propriete{next(self.names)}"))
        response = await client.post(
            "/v1/carnets", content=body(document), headers=self.headers[source]
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def contribute(self, client, source, carnet_id, document):
        response = await client.post(
            f"/v1/carnets/{carnet_id}/contributions",
            content=body(document),
            headers=self.headers[source],
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def view(self, client, source, carnet_id):
        response = await client.get(f"/v1/carnets/{carnet_id}", headers=self.headers[source])
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(settings, db):
    app = create_app(settings, database=db)
    secrets = {}
    with db.write() as session:
        for kind in SOURCES:
            organisation = create_organisation(
                session, nom=f"{kind} propriétés", type_acteur="departement", territoires=["26"]
            )
            created = create_client(session, organisation_id=organisation.id, nom="si")
            # Health and justice items are recorded by an agent habilitated for them.
            agent = agents.create(
                session,
                organisation_id=organisation.id,
                nom="Agent",
                courriel="agent@example.org",
                role="conseiller",
                habilitations=["justice", "sante_handicap"],
                at=datetime.now(UTC),
            )
            secrets[kind] = (created.client.client_id, created.secret, agent.id)
    headers = {}

    async def tokens(client):
        for kind, (client_id, secret, agent) in secrets.items():
            response = await client.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            headers[kind] = {
                "Authorization": f"Bearer {token}",
                "Finalite": "accompagnement",
                "Agent": agent,
            }

    result = Api(app=app, headers=headers, names=itertools.count())
    result.run(tokens)
    return result


# -- normalisation ----------------------------------------------------------------------------


def _canonical(value):
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _data_and_sources(value):
    """Data with each provenance reduced to its source, and collections in a canonical order."""
    if isinstance(value, dict):
        return {
            key: item["source"]
            if key == "provenance"
            else [p["source"] for p in item]
            if key == "provenances"
            else _data_and_sources(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return sorted((_data_and_sources(item) for item in value), key=_canonical)
    return value


def comparable(view):
    """What a notebook holds, without what depends on the notebook or the time of reception:
    ids, versions, dates of the notebook, the person (each example uses another), and of every
    provenance all but its source."""
    kept = {
        key: value
        for key, value in view.items()
        if key not in ("id", "version", "cree_le", "modifie_le", "personne", "provenance")
    }
    kept = _data_and_sources(kept)
    kept["provenance"] = {
        pointer: origin["source"]
        for pointer, origin in view["provenance"].items()
        if not pointer.startswith("/personne/")
    }
    return kept


# -- properties -------------------------------------------------------------------------------


def replaying_changes_nothing(api, contribution):
    """Apply ``contribution`` twice to a new notebook: the second time changes nothing."""

    async def scenario(client):
        source = SOURCES[0]
        carnet_id = await api.new_notebook(client, source)
        first = await api.contribute(client, source, carnet_id, contribution)
        before = await api.view(client, source, carnet_id)
        second = await api.contribute(client, source, carnet_id, contribution)
        assert second["version"] == first["version"]
        assert second["resultat"]["appliques"] == []
        assert await api.view(client, source, carnet_id) == before

    api.run(scenario)


@PROPERTY_SETTINGS
@given(contribution=contributions())
def test_the_same_contribution_twice_changes_nothing_the_second_time(api, contribution):
    replaying_changes_nothing(api, contribution)


@PROPERTY_SETTINGS
@example(
    contribution={
        "diagnostic": {
            "situations": [
                {"code": "mobilite.permis_b", "depuis": "2025-01-01"},
                {"code": "mobilite.permis_b", "depuis": "2025-02-01"},
            ]
        }
    }
)
@given(contribution=contributions(distinct_items=False))
def test_a_contribution_repeating_an_item_changes_nothing_the_second_time(api, contribution):
    replaying_changes_nothing(api, contribution)


@PROPERTY_SETTINGS
@given(data=st.data(), split=disjoint_droits())
def test_contributions_of_two_sources_about_different_items_commute(api, data, split):
    first = data.draw(contributions(split[0]), label="first")
    second = data.draw(contributions(split[1]), label="second")

    async def scenario(client):
        one_way = await api.new_notebook(client, SOURCES[0])
        await api.contribute(client, SOURCES[0], one_way, first)
        await api.contribute(client, SOURCES[1], one_way, second)
        other_way = await api.new_notebook(client, SOURCES[0])
        await api.contribute(client, SOURCES[1], other_way, second)
        await api.contribute(client, SOURCES[0], other_way, first)
        assert comparable(await api.view(client, SOURCES[0], one_way)) == comparable(
            await api.view(client, SOURCES[0], other_way)
        )

    api.run(scenario)
