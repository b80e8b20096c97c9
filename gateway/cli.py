"""The ``carnet`` command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.agents.cli import app as agents_app
from gateway.openapi import OPENAPI_FILE, ROOT, SCHEMAS_DIR, openapi_document, outgoing_bodies
from referential import (
    BatchReport,
    Finding,
    FindingGroup,
    LineSplitter,
    Report,
    TooLong,
    Validator,
    default_validator,
    dumps_stable,
    export_schemas,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Passerelle Carnet de bord.")
schemas_app = typer.Typer(no_args_is_help=True, help="Schémas JSON publiés.")
openapi_app = typer.Typer(no_args_is_help=True, help="Document OpenAPI.")
db_app = typer.Typer(no_args_is_help=True, help="Base de données.")
organisations_app = typer.Typer(no_args_is_help=True, help="Organisations habilitées.")
clients_app = typer.Typer(no_args_is_help=True, help="Clients OAuth2 des organisations.")
habilitations_app = typer.Typer(no_args_is_help=True, help="Matrice d'habilitation.")
keys_app = typer.Typer(no_args_is_help=True, help="Clés de signature des jetons.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Bac à sable des éditeurs (territoire SBX).")
connectors_app = typer.Typer(no_args_is_help=True, help="Connecteurs des systèmes partenaires.")
referential_app = typer.Typer(no_args_is_help=True, help="Référentiel et ses versions.")
import_app = typer.Typer(no_args_is_help=True, help="Imports de fichiers des partenaires.")
changes_app = typer.Typer(no_args_is_help=True, help="Journal des changements (flux).")
subscriptions_app = typer.Typer(no_args_is_help=True, help="Abonnements aux événements.")
deliveries_app = typer.Typer(no_args_is_help=True, help="Livraisons des événements (la file).")
app.add_typer(schemas_app, name="schemas")
app.add_typer(openapi_app, name="openapi")
app.add_typer(db_app, name="db")
app.add_typer(organisations_app, name="organisations")
app.add_typer(clients_app, name="clients")
app.add_typer(habilitations_app, name="habilitations")
app.add_typer(keys_app, name="keys")
app.add_typer(sandbox_app, name="bac-a-sable")
app.add_typer(connectors_app, name="connectors")
app.add_typer(referential_app, name="referential")
app.add_typer(import_app, name="import")
app.add_typer(changes_app, name="changements")
app.add_typer(subscriptions_app, name="abonnements")
app.add_typer(deliveries_app, name="livraisons")
app.add_typer(agents_app, name="agents")

HABILITATIONS_FILE = ROOT / "docs" / "habilitations.md"


def _database() -> Any:
    from gateway.settings import Settings
    from gateway.storage.database import Database

    return Database(Settings().database_url)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Adresse d'écoute.")] = None,
    port: Annotated[int | None, typer.Option(help="Port d'écoute.")] = None,
    demo: Annotated[
        bool, typer.Option(help="Créer le territoire de démonstration et afficher ses accès.")
    ] = False,
) -> None:
    """Applique les migrations et lance la passerelle (uvicorn)."""
    import uvicorn

    from connectors import ConnectorLoadError
    from gateway.app import create_app
    from gateway.connectors import loader
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings()
    database = Database(settings.database_url)
    database.migrate()
    try:
        application = create_app(settings, database=database, registry=loader.connector_registry())
    except ConnectorLoadError as error:
        typer.echo(f"Démarrage impossible : {error}", err=True)
        raise typer.Exit(1) from None
    if demo:
        from gateway import demo as demo_data

        credentials = demo_data.seed(database, default_validator())
        host_shown = host or settings.host
        port_shown = port or settings.port
        typer.echo(f"Territoire de démonstration {demo_data.TERRITOIRE} — accès des clients :")
        for item in credentials:
            typer.echo(
                f"  {item.organisation} ({item.type_acteur})\n"
                f"    client_id={item.client_id}\n    client_secret={item.client_secret}"
                + (f"\n    agent={item.agent}" if item.agent else "")
            )
        typer.echo(
            f"Jeton : curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials "
            f"http://{host_shown}:{port_shown}/oauth/token"
        )
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        # No access log: URLs can carry identifiers. The asyncio loop, not uvloop: under load
        # uvloop served some connections far later than others (p99 ten times the median).
        access_log=False,
        loop="asyncio",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Crée la base ou applique les migrations manquantes (CARNET_DATABASE_URL)."""
    _database().migrate()
    typer.echo("Base à jour.")


@organisations_app.command("create")
def organisations_create(
    nom: Annotated[str, typer.Option(help="Nom de l'organisation.")],
    type_acteur: Annotated[str, typer.Option("--type", help="Type d'acteur (departement, …).")],
    territoire: Annotated[
        list[str], typer.Option("--territoire", help="Code de département (répétable).")
    ],
    siret: Annotated[str | None, typer.Option(help="SIRET.")] = None,
) -> None:
    """Enregistre une organisation habilitée ; affiche son identifiant."""
    from gateway.organisations.service import InvalidOrganisation, create_organisation

    database = _database()
    try:
        with database.write() as session:
            organisation = create_organisation(
                session, nom=nom, type_acteur=type_acteur, territoires=territoire, siret=siret
            )
    except InvalidOrganisation as error:
        typer.echo(f"Organisation refusée : {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(organisation.id)


@clients_app.command("create")
def clients_create(
    organisation: Annotated[str, typer.Option(help="Identifiant de l'organisation.")],
    nom: Annotated[str, typer.Option(help="Nom du client (le SI qui appelle).")] = "client",
    operateur: Annotated[
        bool,
        typer.Option(
            help="Client d'opérateur : administre les organisations et clients de ses territoires."
        ),
    ] = False,
    national: Annotated[
        bool,
        typer.Option(
            help="Opérateur national (avec --operateur) : administre les organisations des types"
            " d'acteur nationaux (France Travail, CAF/MSA…) de tous les territoires."
        ),
    ] = False,
    dpo: Annotated[
        bool,
        typer.Option(
            help="Client du délégué à la protection des données (avec --operateur) : lit le"
            " journal entier des carnets de sa portée."
        ),
    ] = False,
    jwks: Annotated[
        Path | None,
        typer.Option(help="Clés publiques (JWKS) du client : authentification private_key_jwt."),
    ] = None,
    jwks_uri: Annotated[
        str | None, typer.Option(help="URL https des clés publiques du client (private_key_jwt).")
    ] = None,
) -> None:
    """Crée un client OAuth2 ; son secret est affiché une seule fois (seule son empreinte est gardée)."""
    from gateway.organisations.service import InvalidOrganisation, create_client

    database = _database()
    try:
        with database.write() as session:
            created = create_client(
                session,
                organisation_id=organisation,
                nom=nom,
                operateur=operateur,
                national=national,
                dpo=dpo,
                jwks=json.loads(jwks.read_text(encoding="utf-8")) if jwks else None,
                jwks_uri=jwks_uri,
            )
    except (InvalidOrganisation, ValueError) as error:
        typer.echo(f"Client refusé : {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"client_id={created.client.client_id}")
    if created.secret:
        typer.echo(f"client_secret={created.secret}")
        typer.echo("Notez ce secret : il ne sera plus affiché.")
    else:
        typer.echo("Authentification : private_key_jwt (assertion signée par la clé du client).")


def _administer(action: Callable[[Any], Any], refused: str) -> Any:
    """Run one administration change in a write transaction; exit 2 with the reason if refused."""
    from gateway.organisations.service import InvalidOrganisation

    database = _database()
    try:
        with database.write() as session:
            return action(session)
    except (InvalidOrganisation, ValueError) as error:
        typer.echo(f"{refused} : {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        database.dispose()


ClientId = Annotated[str, typer.Option("--client", help="Identifiant du client (client_id).")]
OrganisationId = Annotated[
    str, typer.Option("--organisation", help="Identifiant de l'organisation.")
]


@clients_app.command("rotate-secret")
def clients_rotate_secret(client: ClientId) -> None:
    """Remplace le secret d'un client (affiché une seule fois) ; l'ancien cesse de valoir."""
    from gateway.organisations.service import rotate_secret

    secret = _administer(lambda session: rotate_secret(session, client), "Rotation refusée")
    typer.echo(f"client_secret={secret}")
    typer.echo("Notez ce secret : il ne sera plus affiché.")


@clients_app.command("disable")
def clients_disable(client: ClientId) -> None:
    """Désactive un client : ses jetons sont refusés dès la requête suivante."""
    from gateway.organisations.service import set_client_active

    _administer(lambda session: set_client_active(session, client, False), "Refusé")
    typer.echo(f"client {client} désactivé")


@clients_app.command("enable")
def clients_enable(client: ClientId) -> None:
    """Réactive un client."""
    from gateway.organisations.service import set_client_active

    _administer(lambda session: set_client_active(session, client, True), "Refusé")
    typer.echo(f"client {client} activé")


@organisations_app.command("disable")
def organisations_disable(organisation: OrganisationId) -> None:
    """Désactive une organisation et tous ses clients, dès la requête suivante."""
    from gateway.organisations.service import set_organisation_active

    _administer(lambda session: set_organisation_active(session, organisation, False), "Refusé")
    typer.echo(f"organisation {organisation} désactivée")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Ajoute une clé de signature : elle signe désormais ; les jetons signés par les autres
    restent valides tant que ces clés ne sont pas retirées (après la durée de vie des jetons)."""
    from gateway.auth import keys

    kid = _administer(lambda session: keys.rotate(session).kid, "Rotation refusée")
    typer.echo(f"kid={kid}")


@keys_app.command("retire")
def keys_retire(kid: Annotated[str, typer.Argument(help="Identifiant de la clé (kid).")]) -> None:
    """Retire une clé (plus publiée : les jetons qu'elle a signés sont refusés)."""
    from gateway.auth import keys

    _administer(lambda session: keys.retire(session, kid), "Retrait refusé")
    typer.echo(f"clé {kid} retirée")


@keys_app.command("list")
def keys_list() -> None:
    """Les clés publiées, la plus récente (celle qui signe) en premier."""
    from gateway.auth import keys

    signing = _administer(keys.load, "Lecture refusée")
    typer.echo(f"{signing.kid} (signe)")
    for kid in sorted(signing.kids - {signing.kid}):
        typer.echo(kid)


class InputFormat(StrEnum):
    auto = "auto"
    json = "json"
    ndjson = "ndjson"


def _lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes | TooLong]]:
    """The numbered lines of an NDJSON file, cut as the API cuts a batch."""
    splitter = LineSplitter(max_line_bytes)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            yield from splitter.feed(chunk)
    yield from splitter.finish()


def _print_finding(finding: Finding, level: str) -> None:
    where = f"ligne {finding.ligne} " if finding.ligne is not None else ""
    pointer = finding.pointer or "/"
    text = f"{where}{pointer} : [{level}] {finding.code} — {finding.message}"
    typer.echo(text)


def _print_group(group: FindingGroup, level: str) -> None:
    ranges = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in group.lignes)
    more = " …" if group.tronque else ""
    pointer = group.finding.pointer or "/"
    typer.echo(
        f"lignes {ranges}{more} ({group.nombre}) {pointer} : [{level}] {group.finding.code} — "
        f"{group.finding.message}"
    )


@app.command()
def validate(
    file: Annotated[
        Path, typer.Argument(help="Fichier JSON (un contenu) ou NDJSON (un par ligne).")
    ],
    kind: Annotated[str, typer.Option("--kind", "-k", help="Type de contenu (carnet, personne…).")],
    input_format: Annotated[
        InputFormat, typer.Option("--format", help="json, ndjson, ou auto (selon l'extension).")
    ] = InputFormat.auto,
    as_json: Annotated[
        bool, typer.Option("--json", help="Sortie JSON (une ligne par contenu).")
    ] = False,
    grouped: Annotated[
        bool,
        typer.Option(
            "--groupes",
            help="NDJSON : constats groupés par plages de lignes (avec --json : le rapport de "
            "lot de POST /v1/validation/{kind}).",
        ),
    ] = False,
) -> None:
    """Valide un fichier hors ligne avec le moteur de la passerelle ; code 0 si valide, 1 sinon."""
    import gc

    from gateway.settings import Settings

    validator: Validator = default_validator()
    # The referential and its models live as long as the command: out of the collector's
    # generations, collections stay short (as in the gateway).
    gc.freeze()
    if kind not in validator.kinds:
        typer.echo(
            f"Type inconnu « {kind} » ; types : {', '.join(sorted(validator.kinds))}.", err=True
        )
        raise typer.Exit(2)
    if not file.is_file():
        typer.echo(f"Fichier introuvable : {file}", err=True)
        raise typer.Exit(2)
    ndjson = input_format is InputFormat.ndjson or (
        input_format is InputFormat.auto and file.suffix.lower() in (".ndjson", ".jsonl")
    )
    batch = BatchReport(kind=kind, version=validator.version)
    reports: Iterator[Report]
    if ndjson:
        max_line_bytes = Settings().max_body_bytes
        reports = (batch.add_line(validator, n, line) for n, line in _lines(file, max_line_bytes))
    else:
        reports = iter([validator.check(kind, file.read_bytes())])
    total = invalid = warnings = 0
    for report in reports:
        total += 1
        invalid += not report.valid
        warnings += len(report.warnings)
        if grouped and ndjson:
            continue
        if as_json:
            typer.echo(json.dumps(report.to_wire(), ensure_ascii=False))
            continue
        for finding in report.errors:
            _print_finding(finding, "erreur")
        for finding in report.warnings:
            _print_finding(finding, "avertissement")
    if grouped and ndjson:
        if as_json:
            typer.echo(json.dumps(batch.to_wire(), ensure_ascii=False))
        else:
            for group in batch.groups("erreur"):
                _print_group(group, "erreur")
            for group in batch.groups("avertissement"):
                _print_group(group, "avertissement")
    if not as_json:
        typer.echo(
            f"{total} contenu(s) « {kind} » : {total - invalid} valide(s), {invalid} invalide(s), "
            f"{warnings} avertissement(s) (référentiel {validator.version})."
        )
    raise typer.Exit(1 if invalid or total == 0 else 0)


def _write_or_check(path: Path, content: str, check: bool) -> bool:
    """Write ``content`` to ``path``, or with ``check`` tell whether it already holds it."""
    if check:
        return path.is_file() and path.read_text(encoding="utf-8") == content
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return True


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Option("--dir", help="Dossier de sortie.")] = SCHEMAS_DIR,
    check: Annotated[
        bool, typer.Option(help="Vérifier sans écrire ; code 1 en cas d'écart.")
    ] = False,
) -> None:
    """Écrit openapi/schemas/<version>/<type>.json pour chaque version servie du référentiel,
    et openapi/schemas/sortants-1/<type>.json pour les corps qui sortent de la passerelle
    (webhooks, connecteurs de livraison, flux des changements) ; triés, stables."""
    from referential import OUTGOING_VERSION, payload_schema

    current = default_validator()
    stale = []
    for body in outgoing_bodies():
        path = directory / OUTGOING_VERSION / f"{body.kind}.json"
        if not _write_or_check(path, dumps_stable(body.schema()), check):
            stale.append(f"{OUTGOING_VERSION}/{body.kind}")
        elif not check:
            typer.echo(str(path))
    for version in current.referential.schema_versions():
        validator = current.for_version(version)
        if not check:
            for path in export_schemas(validator, directory):
                typer.echo(str(path))
            continue
        stale += [
            f"{version}/{kind}"
            for kind in sorted(validator.kinds)
            if not _write_or_check(
                directory / version / f"{kind}.json",
                dumps_stable(payload_schema(validator, kind)),
                check=True,
            )
        ]
    if stale:
        typer.echo(f"Schémas à régénérer (carnet schemas export) : {', '.join(stale)}", err=True)
        raise typer.Exit(1)


@openapi_app.command("export")
def openapi_export(
    file: Annotated[Path, typer.Option("--file", help="Fichier de sortie.")] = OPENAPI_FILE,
    check: Annotated[
        bool, typer.Option(help="Vérifier sans écrire ; code 1 en cas d'écart.")
    ] = False,
) -> None:
    """Écrit le document OpenAPI de la passerelle (openapi/openapi.json)."""
    if not _write_or_check(file, openapi_document(), check):
        typer.echo("openapi/openapi.json à régénérer (carnet openapi export).", err=True)
        raise typer.Exit(1)


@openapi_app.command("examples")
def openapi_examples(
    check: Annotated[
        bool, typer.Option(help="Vérifier sans écrire ; code 1 en cas d'écart.")
    ] = False,
) -> None:
    """Écrit la réponse attendue de chaque exemple d'openapi/examples (<nom>.attendu.json)."""
    from gateway.validation.examples import examples

    validator = default_validator()
    stale = [
        f"{example.kind}/{example.name}"
        for example in examples()
        if not _write_or_check(example.expected_path, example.answer(validator), check)
    ]
    if stale:
        typer.echo(f"Exemples à régénérer (carnet openapi examples) : {', '.join(stale)}", err=True)
        raise typer.Exit(1)


@habilitations_app.command("export")
def habilitations_export(
    file: Annotated[Path, typer.Option("--file", help="Fichier de sortie.")] = HABILITATIONS_FILE,
    check: Annotated[
        bool, typer.Option(help="Vérifier sans écrire ; code 1 en cas d'écart.")
    ] = False,
) -> None:
    """Écrit la matrice d'habilitation lisible (docs/habilitations.md)."""
    from gateway.habilitation import load_matrix

    if not _write_or_check(file, load_matrix().to_markdown(), check):
        typer.echo("docs/habilitations.md à régénérer (carnet habilitations export).", err=True)
        raise typer.Exit(1)


Categorie = Annotated[str, typer.Option("--categorie", help="Catégorie de données (identite, …).")]
Droit = Annotated[str, typer.Option("--droit", help="lecture, ecriture, export, identification.")]
Motif = Annotated[str, typer.Option("--motif", help="Pourquoi (consigné).")]
Auteur = Annotated[str, typer.Option("--auteur", help="Qui décide (consigné).")]


def _decide(
    organisation: str,
    categorie: str,
    droit: str,
    effet: str,
    motif: str,
    auteur: str,
    garanties: str | None,
) -> None:
    from gateway.habilitation import load_matrix
    from gateway.habilitation.overrides import decide

    _administer(
        lambda session: decide(
            session,
            load_matrix(),
            organisation_id=organisation,
            categorie=categorie,
            droit=droit,
            effet=effet,
            motif=motif,
            auteur=auteur,
            garanties=garanties,
        ),
        "Dérogation refusée",
    )


@habilitations_app.command("accorder")
def habilitations_grant(
    organisation: OrganisationId,
    categorie: Categorie,
    droit: Droit,
    motif: Motif,
    auteur: Auteur,
    garanties: Annotated[
        str | None,
        typer.Option(help="Garanties de sécurité (requises pour exporter une catégorie sensible)."),
    ] = None,
) -> None:
    """Accorde à une organisation un droit que son type d'acteur n'a pas (consigné)."""
    _decide(organisation, categorie, droit, "accorde", motif, auteur, garanties)
    typer.echo(f"{droit} sur {categorie} accordé à {organisation}")


@habilitations_app.command("retirer")
def habilitations_restrict(
    organisation: OrganisationId, categorie: Categorie, droit: Droit, motif: Motif, auteur: Auteur
) -> None:
    """Retire à une organisation un droit de son type d'acteur (consigné)."""
    _decide(organisation, categorie, droit, "retire", motif, auteur, None)
    typer.echo(f"{droit} sur {categorie} retiré à {organisation}")


@habilitations_app.command("lever")
def habilitations_lift(organisation: OrganisationId, categorie: Categorie, droit: Droit) -> None:
    """Lève la dérogation active sur ce droit : la matrice s'applique de nouveau."""
    from gateway.habilitation.overrides import lift

    _administer(
        lambda session: lift(
            session, organisation_id=organisation, categorie=categorie, droit=droit
        ),
        "Refusé",
    )
    typer.echo("dérogation levée")


@habilitations_app.command("derogations")
def habilitations_history(organisation: OrganisationId) -> None:
    """L'historique des dérogations d'une organisation (qui, quand, pourquoi)."""
    from gateway.habilitation.overrides import history

    for decision in _administer(lambda session: history(session, organisation), "Refusé"):
        state = "active" if decision.actif else f"levée le {decision.leve_le:%Y-%m-%d}"
        typer.echo(
            f"{decision.cree_le:%Y-%m-%d} {decision.effet} {decision.droit} {decision.categorie}"
            f" ({state}) par {decision.auteur} : {decision.motif}"
        )


@sandbox_app.command("peupler")
def sandbox_seed(
    nombre: Annotated[int, typer.Option(min=1, max=1000, help="Carnets inventés à ajouter.")] = 20,
) -> None:
    """Ajoute des carnets inventés au territoire bac à sable (SBX) des éditeurs de logiciel."""
    from gateway.demo import seed_sandbox

    held = seed_sandbox(_database(), default_validator(), nombre)
    typer.echo(f"{held} carnet(s) inventé(s) dans le bac à sable")


def enabled_connectors(configuration: dict[str, dict[str, str]], matrix: Any) -> Any:
    """The connectors the configuration enables; exit 1 with the reason when one cannot load."""
    from connectors import ConnectorLoadError
    from gateway.connectors import loader

    try:
        return loader.Connectors.load(configuration, loader.connector_registry(), matrix)
    except ConnectorLoadError as error:
        typer.echo(f"Connecteurs : {error}", err=True)
        raise typer.Exit(1) from None


@connectors_app.command("run")
def connectors_run(
    slug: Annotated[str, typer.Argument(help="Le connecteur, par exemple france_travail.")],
    territoire: Annotated[str, typer.Option(help="Le territoire (département) à parcourir.")],
    forcer: Annotated[
        bool, typer.Option(help="Interroger le partenaire même dans le délai de fraîcheur.")
    ] = False,
) -> None:
    """Interroge le partenaire pour chaque carnet du territoire qui porte un NIR (au nom de la
    passerelle, BATCH) ; barre de progression, puis bilan par résultat. S'arrête dès que le
    partenaire refuse tout appel (configuration, abonnement) ; quand il demande de revenir plus
    tard (Retry-After), attend (au plus une minute) et réessaie ce carnet une fois."""
    from datetime import timedelta

    from gateway.connectors.batch import run_batch
    from gateway.connectors.service import SyncService
    from gateway.habilitation import load_matrix
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings()
    matrix = load_matrix()
    enabled = enabled_connectors(settings.connecteurs, matrix)
    entry = enabled.get(slug)
    if entry is None or territoire not in entry.clients:
        typer.echo(f"Connecteur « {slug} » non activé dans le territoire {territoire}.", err=True)
        raise typer.Exit(1)
    database = Database(settings.database_url)
    service = SyncService(
        database,
        default_validator(),
        matrix,
        enabled,
        interval=timedelta(seconds=settings.connecteur_intervalle_secondes),
        not_found_interval=timedelta(seconds=settings.connecteur_intervalle_introuvable_secondes),
    )
    summary = run_batch(
        service,
        slug,
        territoire,
        force=forcer,
        progress=lambda ids: typer.progressbar(ids, label=f"{slug} {territoire}", show_pos=True),
    )
    database.dispose()
    if summary.stopped is not None:
        fatal = summary.stopped
        typer.echo(
            f"Lot arrêté : le partenaire refuse tout appel ({fatal.code} : {fatal.detail}). "
            "Un opérateur doit corriger la configuration ou l'abonnement du connecteur.",
            err=True,
        )
    typer.echo(f"Bilan : {summary.total} carnet(s)")
    for name, count in sorted(summary.outcomes.items()):
        if count:
            typer.echo(f"  {name}={count}")
    if summary.failed:
        raise typer.Exit(1)


@import_app.command("caf-msa")
def import_caf_msa(
    fichier: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Le fichier XML du flux RSA.")
    ],
    client: Annotated[
        str,
        typer.Option(help="Le client de l'organisation qui importe (un département habilité)."),
    ],
) -> None:
    """Importe un fichier de flux RSA CAF/MSA comme POST /v1/imports/caf-msa : barre de
    progression, puis bilan (compteurs, rejets par position, sans donnée personnelle)."""
    from gateway.errors import ProblemError
    from gateway.habilitation import load_matrix
    from gateway.imports.service import ImportService
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings()
    matrix = load_matrix()
    enabled = enabled_connectors(settings.connecteurs, matrix)
    database = Database(settings.database_url)
    service = ImportService(
        database,
        default_validator(),
        matrix,
        enabled,
        spool=Path(settings.imports_dossier),
        max_bytes=settings.imports_max_octets,
    )
    bars: list[Any] = []

    def progress(position: int, total: int) -> None:
        if not bars:
            bars.append(typer.progressbar(length=total, label="Foyers", show_pos=True))
            bars[0].__enter__()
        bars[0].update(position - bars[0].pos)

    try:
        with fichier.open("rb") as source:
            job = service.submit(service.uploader(client), source)
        job = service.run(job.id, progress=progress)
    except ProblemError as error:
        typer.echo(f"Import refusé : {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
        database.dispose()
    report = job.rapport or {}
    head = report.get("fichier", {})
    typer.echo(f"Import {job.id} : {job.statut} ({head.get('statut', '')})")
    if report.get("erreur"):
        refusal = report["erreur"]
        where = ", ".join(
            f"{name} {refusal[name]}"
            for name in ("ligne", "colonne", "octet")
            if refusal.get(name) is not None
        )
        typer.echo(f"  {refusal['code']} : {refusal['message']} {f'({where})' if where else ''}")
    for name, count in (report.get("compteurs") or {}).items():
        if count:
            typer.echo(f"  {name}={count}")
    for item in (report.get("rejets") or [])[:20]:
        position = f"foyer {item.get('foyer')}" + (
            f", personne {item['personne']}" if "personne" in item else ""
        )
        typer.echo(f"  rejet {position}, ligne {item.get('ligne')} : {item['code']}")
    if job.statut != "termine":
        raise typer.Exit(1)


@referential_app.command("diff")
def referential_diff(
    de: Annotated[str, typer.Argument(help="Version de départ (par exemple 2026.1).")],
    a: Annotated[str, typer.Argument(help="Version d'arrivée, postérieure ou égale.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Sortie JSON (celle de GET /v1/referentiel/diff).")
    ] = False,
    donnees: Annotated[
        Path | None,
        typer.Option("--donnees", help="Dossier de données du référentiel (par défaut : publié)."),
    ] = None,
) -> None:
    """Ce qui change d'une version du référentiel à une autre."""
    from referential import VersionOrderError, current_referential, load_referential

    ref = load_referential(donnees) if donnees else current_referential()
    try:
        changes = ref.diff(de, a)
    except VersionOrderError as error:
        typer.echo(
            f"Comparaison impossible : {error} (versions : {', '.join(sorted(ref.versions))}).",
            err=True,
        )
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(changes.to_wire(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"Référentiel {de} → {a}")
    if changes.empty:
        typer.echo("Aucun changement de code.")
        return
    sections: list[tuple[str, list[str]]] = [
        ("Ajoutés", [f"{c.liste:<22} {c.code} — {c.libelle}" for c in changes.ajoutes]),
        ("Renommés", [f"{r.liste:<22} {r.codes[0]} → {r.vers[0]}" for r in changes.renommes]),
        (
            "Fusionnés",
            [f"{r.liste:<22} {' + '.join(r.codes)} → {r.vers[0]}" for r in changes.fusionnes],
        ),
        (
            "Scindés",
            [f"{r.liste:<22} {r.codes[0]} → {' | '.join(r.vers)}" for r in changes.scindes],
        ),
        ("Dépréciés", [_replaced(c) for c in changes.deprecies]),
        ("Retirés", [_replaced(c) for c in changes.retires]),
    ]
    for title, lines in sections:
        if lines:
            typer.echo(f"{title} ({len(lines)}) :")
            for line in lines:
                typer.echo(f"  {line}")


def _replaced(change: Any) -> str:
    then = f" → {', '.join(change.remplace_par)}" if change.remplace_par else " (sans remplacement)"
    return f"{change.liste:<22} {change.code}{then}"


@app.command()
def worker(
    une_fois: Annotated[
        bool, typer.Option("--une-fois", help="Une seule passe sur les livraisons dues.")
    ] = False,
    attente: Annotated[
        float, typer.Option(help="Secondes d'attente quand rien n'est dû.", min=0.05)
    ] = 1.0,
) -> None:
    """Livrer les événements aux abonnés (webhooks signés) ; plusieurs workers partagent la
    file sur PostgreSQL."""
    from gateway.habilitation import load_matrix
    from gateway.settings import Settings
    from gateway.subscriptions.worker import Worker

    settings = Settings()
    # The deliver connectors (the département IS) serve the ``connecteur:<slug>`` targets.
    enabled = enabled_connectors(settings.connecteurs, load_matrix())
    database = _database()
    deliverer = Worker(
        database,
        heartbeat=timedelta(minutes=settings.battement_minutes),
        connectors=enabled,
        settings=settings,
    )
    try:
        if une_fois:
            typer.echo(f"{deliverer.run_once()} livraison(s) tentée(s).")
        else:
            deliverer.run(attente)
    except KeyboardInterrupt:
        pass
    finally:
        deliverer.close()
        database.dispose()


@changes_app.command("purger")
def changes_purge() -> None:
    """Oublier les changements plus anciens que la durée de conservation
    (CARNET_CHANGEMENTS_RETENTION_JOURS) : un curseur du flux qui les précède a expiré (410)."""
    from gateway.feed import repository as feed
    from gateway.settings import Settings

    now = datetime.now(UTC)
    before = now - timedelta(days=Settings().changements_retention_jours)
    database = _database()
    try:
        with database.write() as session:
            purged = feed.purge(session, before, now)
    finally:
        database.dispose()
    typer.echo(f"{purged} changement(s) oublié(s).")


@deliveries_app.command("purger")
def deliveries_purge() -> None:
    """Oublier les livraisons livrées depuis plus de CARNET_LIVRAISONS_RETENTION_JOURS (7), les
    battements de plus de CARNET_BATTEMENTS_RETENTION_JOURS (1), et les lettres mortes de plus
    de CARNET_CHANGEMENTS_RETENTION_JOURS (30) ; jamais une livraison en attente."""
    from gateway.settings import Settings
    from gateway.subscriptions import repository

    settings = Settings()
    now = datetime.now(UTC)
    database = _database()
    try:
        with database.write() as session:
            purged = repository.purge_deliveries(
                session,
                delivered_before=now - timedelta(days=settings.livraisons_retention_jours),
                heartbeats_before=now - timedelta(days=settings.battements_retention_jours),
                dead_before=now - timedelta(days=settings.changements_retention_jours),
            )
    finally:
        database.dispose()
    typer.echo(
        f"{purged.delivered} livraison(s) livrée(s), {purged.heartbeats} battement(s), "
        f"{purged.dead} lettre(s) morte(s) oubliée(s)."
    )


@subscriptions_app.command("resceller")
def subscriptions_reseal() -> None:
    """Sceller de nouveau les secrets de signature sous la première clé de CARNET_CLES_SECRETS
    (après l'ajout d'une clé en tête) : l'ancienne clé peut ensuite être retirée. Un abonnement
    dont le secret change pendant l'opération (une rotation) garde le sien et est signalé :
    relancer la commande. Code 1 si un secret ne s'ouvre avec aucune des clés."""
    from gateway import sealing
    from gateway.settings import Settings
    from gateway.subscriptions import service

    keyring = sealing.keyring(Settings())
    database = _database()
    try:
        with database.write() as session:
            done = service.reseal_all(session, keyring)
    finally:
        database.dispose()
    for subscription_id, code in done.unreadable:
        typer.echo(f"abonnement {subscription_id} : {code}", err=True)
    typer.echo(f"{done.resealed} abonnement(s) scellé(s) de nouveau sous la clé « {keyring.kid} ».")
    if done.changed:
        typer.echo(
            f"{done.changed} abonnement(s) dont le secret a changé pendant l'opération, laissé(s) "
            "tel(s) quel(s) : relancez la commande."
        )
    if done.unreadable:
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="carnet")


if __name__ == "__main__":
    main()
