"""Response models of the referential API (documentation of the wire contract)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class EntreeReferentiel(Wire):
    code: str = Field(examples=["logement.heberge_chez_tiers"])
    libelle: str = Field(examples=["Hébergé chez un tiers"])
    description: str | None = None
    theme: str | None = None
    categorie: str = Field(examples=["situation"])
    introduit_en: str = Field(examples=["2026.1"])
    deprecie: bool
    deprecie_en: str | None = None
    remplace_par: list[str] | None = None
    alias_v1: list[str] | None = Field(
        default=None,
        description="Valeurs ou libellés de Carnet de bord v1 (correspondance à l'import).",
    )


class Liste(Wire):
    liste: str
    description: str
    version: str
    entrees: list[EntreeReferentiel]


class ResumeListe(Wire):
    nom: str
    description: str
    nombre: int
    lien: str


class ResumeVersion(Wire):
    version: str
    publiee_le: str
    statut: str = Field(description="courante, supportee, retiree ou a_venir.")
    notes: str
    fin_support: str | None = Field(
        default=None, description="Fin de support (annoncée ou passée) d'une version antérieure."
    )


class ResumeCorrespondance(Wire):
    partenaire: str
    table: str
    cible: str
    versions_api: list[str]
    lien: str


class Referentiel(Wire):
    version: str
    versions: list[ResumeVersion]
    listes: list[ResumeListe]
    correspondances: list[ResumeCorrespondance]
    liens: dict[str, str]


class LigneCorrespondance(Wire):
    code_partenaire: str
    libelle_partenaire: str
    relation: str = Field(description="equivalent, plus_large, plus_etroit ou sans_equivalent.")
    code: str | None = None
    contrainte: str | None = None
    versions_api: list[str] | None = None


class Correspondance(Wire):
    partenaire: str
    table: str
    cible: str
    versions_api: list[str]
    description: str
    lignes: list[LigneCorrespondance]


class SchemaPublie(Wire):
    type: str
    id: str = Field(alias="$id")
    lien: str | None = Field(
        default=None, description="Où le télécharger (absent : version retirée)."
    )


class VersionSchemas(Wire):
    version: str
    statut: str = Field(description="courante, supportee, retiree ou a_venir.")
    publiee_le: str
    fin_support: str | None = None
    schemas: list[SchemaPublie]


class SchemasSortants(Wire):
    version: str = Field(description="Version des formes des corps sortants (dans leur $id).")
    schemas: list[SchemaPublie]


class IndexSchemas(Wire):
    version_courante: str
    versions: list[VersionSchemas]
    sortants: SchemasSortants = Field(
        description=(
            "Les corps qui sortent de la passerelle : webhooks, connecteurs de livraison, flux "
            "des changements (vérifiés avant l'envoi)."
        )
    )


class CodeModifie(Wire):
    liste: str
    code: str
    libelle: str
    remplace_par: list[str] | None = Field(
        default=None, description="Les codes qui le remplacent dans la version d'arrivée."
    )


class Renommage(Wire):
    liste: str
    code: str
    remplace_par: str


class Fusion(Wire):
    liste: str
    codes: list[str]
    remplace_par: str


class Scission(Wire):
    liste: str
    code: str
    remplace_par: list[str]


class DiffReferentiel(Wire):
    de: str
    a: str
    ajoutes: list[CodeModifie]
    renommes: list[Renommage]
    fusionnes: list[Fusion] = Field(
        description="Plusieurs codes remplacés par un seul, ou un code remplacé par un code existant."
    )
    scindes: list[Scission]
    deprecies: list[CodeModifie] = Field(description="Codes dépréciés, encore acceptés.")
    retires: list[CodeModifie] = Field(description="Codes qui ne sont plus publiés.")
