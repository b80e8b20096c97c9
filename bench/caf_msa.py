"""CAF/MSA import throughput and memory: a 10,000-foyer and a 100,000-foyer file, side by side.

For each size, generates a made-up monthly file (windows-1252, one or two persons per foyer,
fixed seed), a fresh SQLite database with a département, the ``caf_msa`` connector's
organisation and client, and notebooks for ``--matched`` of the persons (the others are
reported « not found »), then measures in subprocesses, one at a time:

(a) the connector alone: ``CafMsaConnector.ingest`` over the file (parse, validate, map);
(b) the whole import, ``carnet import caf-msa FILE`` (start-up included): both passes, matching,
    ordering, writes through the notebook service, one transaction per foyer, the report.

Each prints foyers/s and the subprocess's peak resident memory (``wait4``). Targets: (b) at least
2,000 foyers/s on SQLite, peak RSS under 150 MB, and flat: the 10,000-foyer run within 20 MB of
the 100,000-foyer run.

    uv run python bench/caf_msa.py [--sizes 10000,100000] [--matched 0.05] [--keep DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["EXEMPLE", "MODÈLE", "FICTIF", "ÉCHANTILLON"]
FIRST = ["HÉLOÏSE", "BASTIEN", "CLÉMENCE", "RENÉ"]


def nir(index: int, birth: str) -> str:
    """A made-up NIR of a person born in ``birth``'s year and month (``AAAA-MM-JJ``):
    département 99 (none such), serial from the index."""
    return f"{1 + index % 2}{birth[2:4]}{birth[5:7]}99{index % 1_000_000:06d}"


def write_file(path: Path, foyers: int, rng: random.Random) -> list[tuple[str, str]]:
    """The file, written as it streams; returns (NIR, birth date) of every person."""
    persons: list[tuple[str, str]] = []
    with path.open("w", encoding="cp1252", newline="\n") as out:
        out.write('<?xml version="1.0" encoding="windows-1252"?>\n<Racine>\n')
        out.write(
            "<IdentificationFlux><APPLIEME>CRI</APPLIEME><NUMVERSIONAPPLIEME>6200</NUMVERSIONAPPLIEME>"
            "<TYPEFLUX>M</TYPEFLUX><NATFLUX>D</NATFLUX><DTCREAFLUX>2024-03-04</DTCREAFLUX>"
            "<HEUCREAFLUX>03:15:00</HEUCREAFLUX><DTREF>2024-02-29</DTREF></IdentificationFlux>\n"
        )
        serial = 0
        for index in range(foyers):
            members = []
            for _ in range(1 + (rng.random() < 0.3)):
                serial += 1
                birth = f"{1960 + serial % 40}-{serial % 12 + 1:02d}-{serial % 28 + 1:02d}"
                persons.append((nir(serial, birth), birth))
                members.append(
                    "<Personne><Identification>"
                    f"<NOM>{rng.choice(NAMES)}</NOM><NOMNAI>{rng.choice(NAMES)}</NOMNAI>"
                    f"<PRENOM>{rng.choice(FIRST)}</PRENOM><NOMCOMNAI>VALENCE</NOMCOMNAI>"
                    f"<DTNAI>{birth}</DTNAI><NIR>{nir(serial, birth)}</NIR><SEXE>2</SEXE></Identification>"
                    "<DossierCAF><TOPRESPDOS>1</TOPRESPDOS><DDRATDOS>2022-09-01</DDRATDOS></DossierCAF>"
                    "<Prestations><NATPREST>RSA</NATPREST><ROLEPERS>DEM</ROLEPERS><TOPCHAPERS>1</TOPCHAPERS></Prestations>"
                    "<Prestations><NATPREST>PFA</NATPREST><ROLEPERS>DEM</ROLEPERS><TOPCHAPERS>0</TOPCHAPERS></Prestations>"
                    f"<MontantCalculDroitRSAPersonne><TOPPERSDRODEVORSA>{rng.choice('01')}"
                    "</TOPPERSDRODEVORSA></MontantCalculDroitRSAPersonne></Personne>"
                )
            etat = rng.choice("0123456")
            suspension = (
                "<SuspensionVersement><MOTISUSVERSRSA>06</MOTISUSVERSRSA>"
                "<DDSUSVERSRSA>2024-02-01</DDSUSVERSRSA></SuspensionVersement>"
                if etat == "4"
                else ""
            )
            closure = (
                "<FinDroit><MOTICLORSA>RFD</MOTICLORSA><DTCLORSA>2024-02-29</DTCLORSA></FinDroit>"
                if etat == "5"
                else ""
            )
            out.write(
                "<InfosFoyerRSA><IdentificationRSA>"
                f"<Organisme><FONORG>CAF</FONORG><NUMORG>999</NUMORG><MATRICULE>{index:015d}</MATRICULE></Organisme>"
                "<Partenaire><TYPEPARTE>CG </TYPEPARTE><IDEPARTE>026</IDEPARTE></Partenaire>"
                "<DemandeRSA><DTDEMRSA>2022-09-12</DTDEMRSA><NUMDEMRSA>99900001234</NUMDEMRSA></DemandeRSA>"
                f"</IdentificationRSA>{''.join(members)}"
                "<DonneesAdministratives><SituationFamille><SITFAM>CEL</SITFAM><DDSITFAM>2010-01-01</DDSITFAM>"
                "</SituationFamille><Adresse><TroncCommunAdresse><RGADR>1</RGADR><PAYS>FRA</PAYS>"
                "<TYPEADR>D</TYPEADR><ETATADR>CO</ETATADR></TroncCommunAdresse></Adresse></DonneesAdministratives>"
                f"<PrestationRSA><SituationDossierRSA><EtatDossierRSA><ETATDOSRSA>{etat}</ETATDOSRSA>"
                f"</EtatDossierRSA>{suspension}{closure}</SituationDossierRSA><DetailDroitRSA>"
                f"<TroncCommunDroitRSA><TOPSANSDOMFIXE>{rng.choice('01')}</TOPSANSDOMFIXE>"
                "<ORIDEMRSA>DEM</ORIDEMRSA></TroncCommunDroitRSA></DetailDroitRSA></PrestationRSA>"
                "</InfosFoyerRSA>\n"
            )
        out.write(
            f"<TransmissionFlux><NBTOTDOSRSATRANSM>{foyers}</NBTOTDOSRSATRANSM>"
            "<NBTOTDOSRSATRANSMANO>0</NBTOTDOSRSATRANSMANO></TransmissionFlux>\n</Racine>\n"
        )
    return persons


def prepare_database(
    url: str, persons: list[tuple[str, str]], matched: float, rng: random.Random
) -> tuple[str, str]:
    """Organisations, clients and notebooks; returns (département client, connector client)."""
    from gateway.auth.principal import Principal
    from gateway.habilitation import load_matrix
    from gateway.habilitation.guard import Guard
    from gateway.notebooks.service import NotebookService
    from gateway.organisations.service import create_client, create_organisation
    from gateway.storage.database import Database
    from referential import default_validator

    database = Database(url)
    database.migrate()
    with database.write() as session:
        cd = create_organisation(session, nom="CD", type_acteur="departement", territoires=["26"])
        cd_client = create_client(session, organisation_id=cd.id, nom="si").client
        caf = create_organisation(session, nom="CAF", type_acteur="caf_msa", territoires=["26"])
        caf_client = create_client(session, organisation_id=caf.id, nom="connecteur").client
    matrix = load_matrix()
    guard = Guard(
        matrix,
        Principal(
            client_id=cd_client.client_id,
            organisation_id=cd.id,
            type_acteur="departement",
            territoires=("26",),
            scopes=frozenset(matrix.actor("departement").scopes),
        ),
        "accompagnement",
    )
    validator = default_validator()
    chosen = rng.sample(persons, int(len(persons) * matched))
    for start in range(0, len(chosen), 500):
        with database.write() as session:
            service = NotebookService(session, validator, guard)
            for index, (nir13, birth) in enumerate(chosen[start : start + 500], start=start):
                body = {
                    "personne": {
                        "nom": f"Exemple{index}",
                        "prenom": "Héloïse",
                        "date_naissance": birth,
                        "nir": nir13,
                    }
                }
                service.create_or_find(json.dumps(body).encode(), with_view=False)
    database.dispose()
    return cd_client.client_id, caf_client.client_id


PARSE_ONLY = """
import sys
from connectors.caf_msa import CafMsaConnector
connector = CafMsaConnector.from_environment()
with open(sys.argv[1], "rb") as stream:
    kinds = {}
    for record in connector.ingest(stream):
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
print(kinds)
"""


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time (s), peak RSS (MB) of one subprocess, and its output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0,):
        raise SystemExit(f"{command[:4]} a échoué ({process.returncode}) :\n{output[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, output


def run_size(foyers: int, matched: float, workdir: Path) -> dict[str, Any]:
    rng = random.Random(7)
    folder = workdir / str(foyers)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "RSABEM.xml"
    persons = write_file(path, foyers, rng)
    url = f"sqlite:///{folder / 'carnet.db'}"
    started = time.perf_counter()
    cd_client, caf_client = prepare_database(url, persons, matched, rng)
    seeding = time.perf_counter() - started
    env = {
        "CARNET_DATABASE_URL": url,
        "CARNET_CONNECTEURS": json.dumps({"caf_msa": {"26": caf_client}}),
        "CARNET_IMPORTS_DOSSIER": str(folder / "spool"),
    }
    parse_time, parse_rss, _ = measure([sys.executable, "-c", PARSE_ONLY, str(path)], env)
    carnet = shutil.which("carnet") or str(Path(sys.executable).parent / "carnet")
    import_time, import_rss, output = measure(
        [carnet, "import", "caf-msa", str(path), "--client", cd_client], env
    )
    summary = [line.strip() for line in output.splitlines() if "=" in line]
    return {
        "foyers": foyers,
        "personnes": len(persons),
        "carnets": int(len(persons) * matched),
        "octets": path.stat().st_size,
        "seeding_s": seeding,
        "parse_fps": foyers / parse_time,
        "parse_rss": parse_rss,
        "import_fps": foyers / import_time,
        "import_s": import_time,
        "import_rss": import_rss,
        "bilan": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--matched", type=float, default=0.05)
    parser.add_argument("--keep", type=Path, default=None, help="Garder les fichiers ici.")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-caf-msa-"))
    results = []
    try:
        for size in sizes:
            result = run_size(size, args.matched, workdir)
            results.append(result)
            print(
                f"{result['foyers']:>7} foyers ({result['personnes']} personnes, "
                f"{result['carnets']} carnets, {result['octets'] / 1e6:.1f} Mo ; "
                f"carnets créés en {result['seeding_s']:.1f} s)\n"
                f"  (a) connecteur seul : {result['parse_fps']:>8.0f} foyers/s, "
                f"RSS max {result['parse_rss']:.0f} Mo\n"
                f"  (b) import complet  : {result['import_fps']:>8.0f} foyers/s "
                f"({result['import_s']:.1f} s), RSS max {result['import_rss']:.0f} Mo\n"
                f"      bilan : {' '.join(result['bilan'])}",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if len(results) >= 2:
        small, large = results[0], results[-1]
        print(
            f"Mémoire : {large['foyers']} foyers − {small['foyers']} foyers = "
            f"{large['import_rss'] - small['import_rss']:+.0f} Mo (import), "
            f"{large['parse_rss'] - small['parse_rss']:+.0f} Mo (connecteur) ; cible ≤ 20 Mo\n"
            f"Débit import : {large['import_fps'] / small['import_fps']:.2f} × celui de "
            f"{small['foyers']} foyers ; cible ≥ 2 000 foyers/s, RSS < 150 Mo"
        )


if __name__ == "__main__":
    main()
