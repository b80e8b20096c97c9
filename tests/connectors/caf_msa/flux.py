"""Made-up CAF/MSA flux files (connectors.md §2.10): every NIR, name and matricule is fictitious."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class P:
    nir: str | None = "2900499999001"
    dtnai: str = "1990-04-15"
    nom: str = "EXEMPLE"
    prenom: str = "HÉLOÏSE"
    soumis: str | None = "1"
    role: str = "DEM"


@dataclass
class F:
    persons: list[P] = field(default_factory=lambda: [P()])
    etat: str = "2"
    suspensions: list[tuple[str, str]] = field(default_factory=list)
    fin: tuple[str, str] | None = None
    fin_anterieur: tuple[str, str] | None = None
    sdf: str = "0"
    fonorg: str = "CAF"
    numorg: str = "999"
    matricule: str = "999000000001234"
    ideparte: str = "026"
    administratives: bool = True
    prestation: bool = True


def person(p: P) -> str:
    nir = f"<NIR>{p.nir}</NIR>" if p.nir is not None else ""
    soumis = (
        f"<MontantCalculDroitRSAPersonne><TOPPERSDRODEVORSA>{p.soumis}</TOPPERSDRODEVORSA>"
        "</MontantCalculDroitRSAPersonne>"
        if p.soumis is not None
        else ""
    )
    return f"""    <Personne>
      <Identification>
        <QUAL>MME</QUAL><NOM>{p.nom}</NOM><NOMNAI>{p.nom}</NOMNAI><PRENOM>{p.prenom}</PRENOM>
        <NOMCOMNAI>SAINT-ÉTIENNE</NOMCOMNAI><DTNAI>{p.dtnai}</DTNAI><TYPEDTNAI>N</TYPEDTNAI>
        {nir}<SEXE>2</SEXE>
      </Identification>
      <DossierCAF><TOPRESPDOS>1</TOPRESPDOS><DDRATDOS>2022-09-01</DDRATDOS></DossierCAF>
      <Prestations><NATPREST>RSA</NATPREST><ROLEPERS>{p.role}</ROLEPERS><TOPCHAPERS>1</TOPCHAPERS></Prestations>
      <Prestations><NATPREST>PFA</NATPREST><ROLEPERS>{p.role}</ROLEPERS><TOPCHAPERS>0</TOPCHAPERS></Prestations>
      {soumis}
    </Personne>
"""


def foyer(f: F) -> str:
    suspensions = "".join(
        f"<SuspensionVersement><MOTISUSVERSRSA>{m}</MOTISUSVERSRSA><DDSUSVERSRSA>{d}</DDSUSVERSRSA></SuspensionVersement>"
        for m, d in f.suspensions
    )
    fins = ""
    if f.fin:
        fins += f"<FinDroit><MOTICLORSA>{f.fin[0]}</MOTICLORSA><DTCLORSA>{f.fin[1]}</DTCLORSA></FinDroit>"
    if f.fin_anterieur:
        fins += (
            f"<FinDroitMoisAnterieur><MOTICLORSA>{f.fin_anterieur[0]}</MOTICLORSA>"
            f"<DTCLORSA>{f.fin_anterieur[1]}</DTCLORSA></FinDroitMoisAnterieur>"
        )
    administratives = (
        """    <DonneesAdministratives>
      <SituationFamille><SITFAM>MAR</SITFAM><DDSITFAM>2019-06-22</DDSITFAM></SituationFamille>
      <Adresse><TroncCommunAdresse><RGADR>1</RGADR><PAYS>FRA</PAYS><TYPEADR>D</TYPEADR><ETATADR>CO</ETATADR></TroncCommunAdresse></Adresse>
    </DonneesAdministratives>
"""
        if f.administratives
        else ""
    )
    prestation = (
        f"""    <PrestationRSA>
      <SituationDossierRSA>
        <EtatDossierRSA><ETATDOSRSA>{f.etat}</ETATDOSRSA></EtatDossierRSA>
        {suspensions}{fins}
      </SituationDossierRSA>
      <DetailDroitRSA>
        <TroncCommunDroitRSA><TOPSANSDOMFIXE>{f.sdf}</TOPSANSDOMFIXE><ORIDEMRSA>DEM</ORIDEMRSA></TroncCommunDroitRSA>
      </DetailDroitRSA>
    </PrestationRSA>
"""
        if f.prestation
        else ""
    )
    return f"""  <InfosFoyerRSA>
    <IdentificationRSA>
      <Organisme><FONORG>{f.fonorg}</FONORG><NUMORG>{f.numorg}</NUMORG><MATRICULE>{f.matricule}</MATRICULE></Organisme>
      <Partenaire><TYPEPARTE>CG </TYPEPARTE><IDEPARTE>{f.ideparte}</IDEPARTE></Partenaire>
      <DemandeRSA><DTDEMRSA>2022-09-12</DTDEMRSA><NUMDEMRSA>99900001234</NUMDEMRSA></DemandeRSA>
    </IdentificationRSA>
{"".join(person(p) for p in f.persons)}{administratives}{prestation}  </InfosFoyerRSA>
"""


def header(
    type_flux: str = "M",
    dtref: str = "2024-02-29",
    dtcreaflux: str = "2024-03-04",
    heucreaflux: str = "03:15:00",
) -> str:
    return f"""  <IdentificationFlux>
    <APPLIEME>CRI</APPLIEME><NUMVERSIONAPPLIEME>6200</NUMVERSIONAPPLIEME>
    <TYPEFLUX>{type_flux}</TYPEFLUX><NATFLUX>D</NATFLUX>
    <DTCREAFLUX>{dtcreaflux}</DTCREAFLUX><HEUCREAFLUX>{heucreaflux}</HEUCREAFLUX><DTREF>{dtref}</DTREF>
  </IdentificationFlux>
"""


def trailer(count: int, anomalies: int = 0) -> str:
    return f"""  <TransmissionFlux>
    <NBTOTDOSRSATRANSM>{count}</NBTOTDOSRSATRANSM>
    <NBTOTDOSRSATRANSMANO>{anomalies}</NBTOTDOSRSATRANSMANO>
  </TransmissionFlux>
"""


def flux(
    *foyers: F,
    type_flux: str = "M",
    dtref: str = "2024-02-29",
    dtcreaflux: str = "2024-03-04",
    heucreaflux: str = "03:15:00",
    announced: int | None = None,
    encoding: str = "windows-1252",
) -> bytes:
    """A whole file, encoded as it declares."""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<Racine>\n'
        + header(type_flux, dtref, dtcreaflux, heucreaflux)
        + "".join(foyer(f) for f in foyers)
        + trailer(len(foyers) if announced is None else announced)
        + "</Racine>\n"
    )
    return text.encode("cp1252" if encoding == "windows-1252" else encoding)


def sample() -> bytes:
    """The two foyers of connectors.md §2.10: a CAF household of two, an MSA person."""
    return flux(
        F(
            persons=[
                P(),
                P(
                    nir="1880999999002",
                    dtnai="1988-09-03",
                    prenom="BASTIEN",
                    soumis=None,
                    role="CJT",
                ),
            ],
            etat="4",
            suspensions=[("06", "2024-02-01")],
        ),
        F(
            persons=[
                P(
                    nir="2921199999003",
                    dtnai="1992-11-27",
                    nom="MODÈLE",
                    prenom="CLÉMENCE",
                    soumis="0",
                )
            ],
            etat="5",
            fin=("RFD", "2024-02-29"),
            sdf="1",
            fonorg="MSA",
            numorg="998",
            matricule="999000000005678",
        ),
    )
