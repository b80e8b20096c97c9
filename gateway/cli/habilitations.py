"""``carnet habilitations``: the readable matrix and the overrides of an organisation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import OrganisationId, administer, write_or_check
from gateway.openapi import ROOT

habilitations_app = typer.Typer(no_args_is_help=True, help="Matrice d'habilitation.")

HABILITATIONS_FILE = ROOT / "docs" / "habilitations.md"


@habilitations_app.command("export")
def habilitations_export(
    file: Annotated[Path, typer.Option("--file", help="Fichier de sortie.")] = HABILITATIONS_FILE,
    check: Annotated[
        bool, typer.Option(help="Vérifier sans écrire ; code 1 en cas d'écart.")
    ] = False,
) -> None:
    """Écrit la matrice d'habilitation lisible (docs/habilitations.md)."""
    from gateway.habilitation import load_matrix

    if not write_or_check(file, load_matrix().to_markdown(), check):
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

    administer(
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

    administer(
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

    for decision in administer(lambda session: history(session, organisation), "Refusé"):
        state = "active" if decision.actif else f"levée le {decision.leve_le:%Y-%m-%d}"
        typer.echo(
            f"{decision.cree_le:%Y-%m-%d} {decision.effet} {decision.droit} {decision.categorie}"
            f" ({state}) par {decision.auteur} : {decision.motif}"
        )
