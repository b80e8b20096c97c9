"""CAF/MSA file imports through the HTTP API: upload, job, report, matching, ordering,
idempotency, territories, and jobs that survive a restart."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from gateway.app import create_app
from gateway.auth.principal import Principal
from gateway.habilitation import load_matrix
from gateway.habilitation.guard import Guard
from gateway.imports.service import ImportService
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables import ImportJob
from referential import nir_key
from tests.connectors.caf_msa.flux import F, P, flux, sample
from tests.gateway.conftest import BASE_URL, Partner
from tests.gateway.payloads import body, carnet, personne

NIR_1 = "2900499999001"
NIR_2 = "1880999999002"
NIR_3 = "2921199999003"


@dataclass
class Env:
    app: Any
    http: httpx.AsyncClient
    db: Database
    caf_organisation: str
    departement: Partner
    spool: Path


async def make_partner(
    http: httpx.AsyncClient, db: Database, type_acteur: str, territoires: list[str]
) -> Partner:
    with db.write() as session:
        organisation = create_organisation(
            session,
            nom=f"{type_acteur} {uuid.uuid4().hex[:6]}",
            type_acteur=type_acteur,
            territoires=territoires,
        )
        created = create_client(session, organisation_id=organisation.id, nom="si")
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.client.client_id, created.secret),
    )
    assert response.status_code == 200, response.text
    return Partner(
        organisation.id,
        created.client.client_id,
        created.secret,
        response.json()["access_token"],
        type_acteur,
    )


def caf_settings(db: Database, spool: Path, territoires: tuple[str, ...] = ("26",)) -> Settings:
    with db.write() as session:
        caf = create_organisation(
            session, nom="CAF", type_acteur="caf_msa", territoires=list(territoires)
        )
        client = create_client(session, organisation_id=caf.id, nom="connecteur").client
    settings = Settings(
        environment="test",
        issuer=BASE_URL,
        connecteurs={"caf_msa": dict.fromkeys(territoires, client.client_id)},
        imports_dossier=str(spool),
    )
    settings.__dict__["_caf_organisation"] = caf.id
    return settings


@pytest.fixture
async def env(db: Database, tmp_path: Path) -> AsyncIterator[Env]:
    spool = tmp_path / "spool"
    settings = caf_settings(db, spool, ("26", "27"))
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            departement = await make_partner(http, db, "departement", ["26"])
            yield Env(
                application,
                http,
                db,
                settings.__dict__["_caf_organisation"],
                departement,
                spool,
            )


async def notebook(
    env: Env,
    nir: str,
    date_naissance: str = "1990-04-15",
    partner: Partner | None = None,
) -> str:
    document = carnet(personne(nir=nir, date_naissance=date_naissance, nom=f"N{nir[-3:]}"))
    response = await env.http.post(
        "/v1/carnets", content=body(document), headers=(partner or env.departement).headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def upload(env: Env, data: bytes, partner: Partner | None = None) -> dict[str, Any]:
    response = await env.http.post(
        "/v1/imports/caf-msa",
        files={"fichier": ("RSABEM.xml", data, "application/xml")},
        headers=(partner or env.departement).headers,
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/imports/{response.json()['id']}"
    return await finished(env, response.json()["id"])


async def finished(env: Env, job_id: str, partner: Partner | None = None) -> dict[str, Any]:
    for _ in range(500):
        response = await env.http.get(
            f"/v1/imports/{job_id}", headers=(partner or env.departement).headers
        )
        assert response.status_code == 200, response.text
        job = response.json()
        if job["statut"] not in ("en_attente", "en_cours"):
            return dict(job)
        await asyncio.sleep(0.02)
    raise AssertionError("import not finished")


async def carnet_of(env: Env, carnet_id: str) -> dict[str, Any]:
    response = await env.http.get(f"/v1/carnets/{carnet_id}", headers=env.departement.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def rsa_of(env: Env, carnet_id: str) -> dict[str, Any]:
    return dict((await carnet_of(env, carnet_id))["droits"]["rsa"])


def one(nir: str = NIR_1, dtnai: str = "1990-04-15", **foyer: Any) -> F:
    return F(persons=[P(nir=nir, dtnai=dtnai)], **foyer)


def counts(job: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in job["rapport"]["compteurs"].items() if v}


async def test_sample_two_persons_in_a_foyer_one_unknown(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    first = await notebook(env, NIR_1, "1990-04-15")
    third = await notebook(env, NIR_3, "1992-11-27")
    job = await upload(env, sample())
    assert job["statut"] == "termine"
    assert job["progression"] == {"foyers_traites": 2, "foyers_total": 2}
    report = job["rapport"]
    assert report["fichier"]["statut"] == "accepte_avec_rejets"
    assert report["fichier"]["type_flux"] == "M"
    assert report["fichier"]["dtref"] == "2024-02-29"
    assert report["fichier"]["ideparte"] == ["26"]
    assert len(report["fichier"]["sha256"]) == 64
    assert counts(job) == {
        "foyers_lus": 2,
        "foyers_annonces": 2,
        "personnes_lues": 3,
        "appliquees": 2,
        "non_trouvees": 1,
    }
    assert report["rejets"] == [
        {
            "foyer": 1,
            "personne": 2,
            "ligne": 25,
            "code": "personne_non_trouvee",
            "message": "Aucun carnet pour ce NIR sur le territoire.",
        }
    ]
    text = json.dumps(job, ensure_ascii=False) + caplog.text
    for secret in (NIR_1, NIR_2, NIR_3, "EXEMPLE", "BASTIEN", "999000000001234"):
        assert secret not in text
    view = await carnet_of(env, first)
    assert view["version"] == 2
    assert view["droits"]["rsa"] == {
        "etat": "rsa_droit_ouvert_versement_suspendu",
        "suspensions": [{"motif": "caf_declaration_ressource_non_fournie", "depuis": "2024-02-01"}],
        "soumis_droits_devoirs": True,
    }
    assert view["situation"] == {"sans_domicile_fixe": False}
    provenance = view["provenance"]["/droits/rsa"]
    assert provenance["source"] == f"organisation:{env.caf_organisation}"
    assert provenance["type_acteur"] == "caf_msa"
    assert provenance["observe_le"] == "2024-02-29T00:00:00Z"
    closed = await carnet_of(env, third)
    assert closed["droits"]["rsa"] == {
        "etat": "rsa_clos",
        "suspensions": [],
        "motif_cloture": "caf_radie_fin_droit",
        "date_cloture": "2024-02-29",
        "soumis_droits_devoirs": False,
    }
    assert closed["situation"] == {"sans_domicile_fixe": True}


async def test_same_file_twice_changes_nothing_and_says_so(env: Env) -> None:
    carnet_id = await notebook(env, NIR_1)
    data = flux(one(etat="2"))
    first = await upload(env, data)
    assert counts(first)["appliquees"] == 1
    version = (await carnet_of(env, carnet_id))["version"]
    again = await upload(env, data)
    assert again["id"] != first["id"]
    assert again["statut"] == "termine"
    assert again["rapport"]["fichier"]["statut"] == "deja_importe"
    assert again["rapport"]["fichier"]["import_initial"] == first["id"]
    assert again["rapport"]["compteurs"] == first["rapport"]["compteurs"]
    assert (await carnet_of(env, carnet_id))["version"] == version
    # The spool holds no file once the jobs are over: only the hash is kept.
    assert list(env.spool.iterdir()) == []


async def test_same_content_in_other_bytes_is_unchanged(env: Env) -> None:
    carnet_id = await notebook(env, NIR_1)
    await upload(env, flux(one(etat="2")))
    version = (await carnet_of(env, carnet_id))["version"]
    job = await upload(env, flux(one(etat="2"), encoding="utf-8"))
    assert job["rapport"]["fichier"]["statut"] == "accepte"
    assert counts(job)["inchangees"] == 1
    assert (await carnet_of(env, carnet_id))["version"] == version


async def test_monthly_n_after_daily_n_plus_1_is_obsolete(env: Env) -> None:
    carnet_id = await notebook(env, NIR_1)
    daily = flux(one(etat="2"), type_flux="I", dtref="2024-03-15", dtcreaflux="2024-03-16")
    assert counts(await upload(env, daily))["appliquees"] == 1
    monthly = flux(one(etat="4", suspensions=[("06", "2024-02-01")]), dtref="2024-02-29")
    job = await upload(env, monthly)
    assert counts(job)["obsoletes"] == 1
    assert job["rapport"]["rejets"] == []
    rsa = await rsa_of(env, carnet_id)
    assert (rsa["etat"], rsa["suspensions"]) == ("rsa_droit_ouvert_versable", [])


async def test_same_dtref_later_creation_wins(env: Env) -> None:
    carnet_id = await notebook(env, NIR_1)
    await upload(
        env, flux(one(etat="4", suspensions=[("06", "2024-02-01")]), dtcreaflux="2024-03-04")
    )
    later = await upload(env, flux(one(etat="2"), dtcreaflux="2024-03-04", heucreaflux="05:00:00"))
    assert counts(later)["appliquees"] == 1
    earlier = await upload(env, flux(one(etat="3"), dtcreaflux="2024-03-03"))
    assert counts(earlier)["obsoletes"] == 1
    assert (await rsa_of(env, carnet_id))["etat"] == "rsa_droit_ouvert_versable"


async def test_reopened_right_clears_suspension_and_closure(env: Env) -> None:
    carnet_id = await notebook(env, NIR_1)
    await upload(
        env,
        flux(
            one(etat="5", fin=("RFD", "2024-01-31"), suspensions=[("06", "2024-01-01")]),
            dtref="2024-01-31",
        ),
    )
    assert (await rsa_of(env, carnet_id))["motif_cloture"] == "caf_radie_fin_droit"
    job = await upload(env, flux(one(etat="2"), dtref="2024-02-29"))
    assert counts(job)["appliquees"] == 1
    assert await rsa_of(env, carnet_id) == {
        "etat": "rsa_droit_ouvert_versable",
        "suspensions": [],
        "soumis_droits_devoirs": True,
    }


async def test_territories_nothing_revealed(env: Env) -> None:
    other = await make_partner(env.http, env.db, "departement", ["27"])
    await notebook(env, NIR_1, partner=other)  # followed in 27 only
    await notebook(env, NIR_3, "1992-11-27")
    job = await upload(
        env,
        flux(
            one(NIR_1),  # IDEPARTE 026: the person is not in 26
            one(NIR_3, "1992-11-27", ideparte="027"),  # the uploader holds 26 only
            one(NIR_3, "1992-11-27", ideparte="035"),  # the connector is not enabled there
        ),
    )
    assert counts(job) == {
        "foyers_lus": 3,
        "foyers_annonces": 3,
        "personnes_lues": 3,
        "non_trouvees": 1,
        "hors_territoire": 2,
    }
    assert [r["code"] for r in job["rapport"]["rejets"]] == [
        "personne_non_trouvee",
        "hors_territoire",
        "hors_territoire",
    ]
    assert sorted(job["rapport"]["fichier"]["ideparte"]) == ["26", "27", "35"]


async def test_ambiguous_identity_conflict_nir_absent_and_15_characters(env: Env) -> None:
    await notebook(env, NIR_1)
    await notebook(env, NIR_2, "1988-09-03")
    full = NIR_3 + f"{nir_key(NIR_3):02d}"
    fifteen = await notebook(env, full, "1992-11-27")
    job = await upload(
        env,
        flux(
            one(NIR_1),
            one(NIR_1, matricule="999000000000002"),  # the same NIR in two foyers
            one(NIR_2, "1988-09-04"),  # another birth date
            F(persons=[P(nir=None), P(nir=full, dtnai="1992-11-27")]),
        ),
    )
    assert counts(job) == {
        "foyers_lus": 4,
        "foyers_annonces": 4,
        "personnes_lues": 5,
        "ambigues": 2,
        "conflits_identite": 1,
        "invalides": 1,
        "appliquees": 1,
    }
    assert [(r["foyer"], r.get("personne"), r["code"]) for r in job["rapport"]["rejets"]] == [
        (1, 1, "personne_ambigue"),
        (2, 1, "personne_ambigue"),
        (3, 1, "conflit_identite"),
        (4, 1, "nir_absent"),
    ]
    assert (await rsa_of(env, fifteen))["etat"] == "rsa_droit_ouvert_versable"


async def test_invalid_foyer_rejected_and_unknown_codes(env: Env) -> None:
    first = await notebook(env, NIR_1)
    third = await notebook(env, NIR_3, "1992-11-27")
    job = await upload(
        env,
        flux(
            one(NIR_1, prestation=False),
            one(
                NIR_3,
                "1992-11-27",
                etat="5",
                fin=("XXX", "2024-02-29"),
                suspensions=[("ZZ", "2024-02-01")],
            ),
            one(NIR_2, etat="9"),
        ),
    )
    assert counts(job) == {
        "foyers_lus": 3,
        "foyers_annonces": 3,
        "foyers_rejetes": 1,
        "personnes_lues": 2,
        "appliquees": 1,
        "invalides": 1,
    }
    assert [(r["foyer"], r["code"]) for r in job["rapport"]["rejets"]] == [
        (1, "bloc_requis"),
        (3, "code_inconnu"),
    ]
    assert [(w["foyer"], w["code"]) for w in job["rapport"]["avertissements"]] == [
        (2, "code_inconnu"),
        (2, "code_inconnu"),
    ]
    assert "droits" not in await carnet_of(env, first)
    assert await rsa_of(env, third) == {
        "etat": "rsa_clos",
        "suspensions": [],
        "date_cloture": "2024-02-29",
        "soumis_droits_devoirs": True,
    }


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (sample().replace(b"</Racine>", b""), "xml_mal_forme"),
        (
            sample()[: sample().index(b"  <TransmissionFlux>")] + b"</Racine>\n",
            "transmission_absente",
        ),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE Racine [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            b"<Racine><IdentificationFlux><TYPEFLUX>&x;</TYPEFLUX></IdentificationFlux></Racine>",
            "dtd_interdite",
        ),
    ],
)
async def test_rejected_file_applies_nothing(env: Env, data: bytes, code: str) -> None:
    carnet_id = await notebook(env, NIR_1)
    job = await upload(env, data)
    assert job["statut"] == "rejete"
    assert job["rapport"]["fichier"]["statut"] == "rejete"
    assert job["rapport"]["erreur"]["code"] == code
    assert job["rapport"]["erreur"]["ligne"] >= 1
    assert "droits" not in await carnet_of(env, carnet_id)
    # A rejected file may be sent again once corrected: it is not « already imported ».
    assert (await upload(env, data))["statut"] == "rejete"


async def test_count_mismatch_warns(env: Env) -> None:
    job = await upload(env, flux(one(), announced=5))
    assert [w["code"] for w in job["rapport"]["avertissements"]] == ["nombre_foyers_different"]
    assert job["rapport"]["fichier"]["statut"] == "accepte_avec_rejets"


async def test_only_habilitated_uploaders_and_their_own_jobs(env: Env) -> None:
    association = await make_partner(env.http, env.db, "structure_insertion", ["26"])
    response = await env.http.post(
        "/v1/imports/caf-msa",
        files={"fichier": ("RSABEM.xml", sample(), "application/xml")},
        headers=association.headers,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "import_non_autorise"
    job = await upload(env, sample())
    other = await make_partner(env.http, env.db, "departement", ["26"])
    response = await env.http.get(f"/v1/imports/{job['id']}", headers=other.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "import_inconnu"
    response = await env.http.post("/v1/imports/caf-msa", files={"fichier": ("a.xml", b"x")})
    assert response.status_code == 401


async def test_jobs_resume_after_a_restart_or_fail_cleanly(db: Database, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    settings = caf_settings(db, spool)
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            departement = await make_partner(http, db, "departement", ["26"])
            env = Env(application, http, db, "", departement, spool)
            first = await notebook(env, NIR_1)
            third = await notebook(env, NIR_3, "1992-11-27")
            service: ImportService = application.state.gateway.imports

    # A process stopped during an import: the job is « en_cours » after its first foyer, its
    # file in the spool; another lost its file.
    matrix = load_matrix()
    principal = Principal(
        client_id=departement.client_id,
        organisation_id=departement.organisation_id,
        type_acteur="departement",
        territoires=("26",),
        scopes=frozenset(matrix.actor("departement").scopes),
    )
    guard = Guard(matrix, principal, "instruction_rsa")
    resumed = service.submit(guard, io.BytesIO(sample()))
    lost = service.submit(guard, io.BytesIO(flux(one())))
    with db.write() as session:
        job = session.get(ImportJob, resumed.id)
        assert job is not None
        job.statut, job.foyers_traites = "en_cours", 1
        session.add(job)
    service.path(lost.id).unlink()

    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            env = Env(application, http, db, "", departement, spool)
            done = await finished(env, resumed.id)
            assert done["statut"] == "termine"
            assert done["rapport"]["fichier"]["reprise_apres_foyer"] == 1
            # Foyer 1 was committed before the stop: it is not applied again.
            assert "droits" not in await carnet_of(env, first)
            assert (await rsa_of(env, third))["etat"] == "rsa_clos"
            failed = await finished(env, lost.id)
            assert failed["statut"] == "echec"
            assert failed["rapport"]["erreur"]["code"] == "fichier_perdu"


async def test_a_process_that_lost_its_claim_stops_and_the_batch_rolls_back(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.imports.service as imports

    monkeypatch.setattr(imports, "BATCH_FOYERS", 1)
    first = await notebook(env, NIR_1)
    third = await notebook(env, NIR_3, "1992-11-27")
    service: ImportService = env.app.state.gateway.imports
    matrix = load_matrix()
    guard = Guard(
        matrix,
        Principal(
            client_id=env.departement.client_id,
            organisation_id=env.departement.organisation_id,
            type_acteur="departement",
            territoires=("26",),
            scopes=frozenset(matrix.actor("departement").scopes),
        ),
        "instruction_rsa",
    )
    job = service.submit(guard, io.BytesIO(sample()))

    def taken_over(position: int, total: int) -> None:
        # Another process claims the job once the first foyer is committed.
        with env.db.write() as session:
            row = session.get(ImportJob, job.id)
            assert row is not None
            row.proprietaire = "autre-processus"
            session.add(row)

    stopped = service.run(job.id, progress=taken_over)
    assert (stopped.statut, stopped.foyers_traites) == ("en_cours", 1)
    assert (await rsa_of(env, first))["etat"] == "rsa_droit_ouvert_versement_suspendu"
    assert "droits" not in await carnet_of(env, third)  # foyer 2 rolled back
    # The process holding the claim goes on from the last committed foyer.
    with env.db.write() as session:
        row = session.get(ImportJob, job.id)
        assert row is not None
        row.proprietaire = None
        session.add(row)
    done = service.run(job.id)
    assert done.statut == "termine"
    assert (await rsa_of(env, third))["etat"] == "rsa_clos"
    assert (await carnet_of(env, first))["version"] == 2


async def test_an_oversized_upload_is_refused_and_recorded_nowhere(env: Env) -> None:
    service: ImportService = env.app.state.gateway.imports
    service.max_bytes = 2048
    response = await env.http.post(
        "/v1/imports/caf-msa",
        files={"fichier": ("RSABEM.xml", sample(), "application/xml")},
        headers=env.departement.headers,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "fichier_trop_volumineux"
    assert response.headers["content-type"].startswith("application/problem+json")
    with env.db.read() as session:
        assert session.exec(select(ImportJob)).all() == []
    assert not env.spool.exists() or list(env.spool.iterdir()) == []
    missing = await env.http.post(
        "/v1/imports/caf-msa", files={"autre": ("a.xml", b"x")}, headers=env.departement.headers
    )
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith("application/problem+json")
