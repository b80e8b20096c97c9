"""Made-up France Travail payloads (connectors.md §1.11): no real person, no real identifier."""

import copy

CLIENT_ID = "PAR_carnetdemo_7f3a"
SECRET = "demo-secret-not-real"
API = "https://api.francetravail.io"
TOKEN_AGENT = "https://proxyproconnect.francetravail.net/connexion/oauth2/access_token"
TOKEN_PARTENAIRE = "https://entreprise.francetravail.fr/connexion/oauth2/access_token"
SEARCH_V2 = API + "/partenaire/rechercher-usager/v2/usagers/par-datenaissance-et-nir"
DOSSIER_V4 = API + "/partenaire/diagnosticargumente/v4/dossiers"
SEARCH_V1 = API + "/partenaire/rechercher-usager/v1/usagers/recherche"
IDENTIFIANT = "3f6d2a90-5c1e-4b7a-9e02-6a1b8c4d0e11#ZGVtby1pZGVudGlmaWFudC1ub24tcmVlbA"
DOSSIER_V1 = API + "/partenaire/diagnosticargumente/v1/individus/" + IDENTIFIANT.replace("#", "%23")


def token(value="demo.access.token.1", expires_in=1499, scope="x"):
    return {"scope": scope, "expires_in": expires_in, "token_type": "Bearer", "access_token": value}


def found(jeton="demo-jeton-usager-0001", certified="O"):
    return {
        "codeRetour": "S001",
        "message": "Approchant trouvé",
        "jetonUsager": jeton,
        "topIdentiteCertifiee": certified,
    }


def found_v1(identifiant=IDENTIFIANT, certified="O"):
    return {
        "codeRetour": "S001",
        "message": "Approchant trouvé",
        "topIdentiteCertifiee": certified,
        "identifiant": identifiant,
    }


NOT_FOUND = {
    "codeRetour": "S002",
    "message": "Aucun approchant trouvé",
    "jetonUsager": None,
    "topIdentiteCertifiee": None,
}
SEVERAL = {
    "codeRetour": "S003",
    "message": "Plusieurs usagers trouvés",
    "jetonUsager": None,
    "topIdentiteCertifiee": None,
}
R997 = {
    "codeRetour": "R997",
    "message": "Une erreur de validation s'est produite",
    "jetonUsager": "null",
    "topIdentiteCertifiee": "null",
}

_V1 = {
    "besoinsParDiagnosticIndividuDtos": [
        {
            "idMetierChiffre": "3f6d2a90-5c1e-4b7a-9e02-6a1b8c4d0e11#bWV0aWVyLWRlbW8tMQ",
            "nomMetier": "Plongeur en restauration",
            "typologie": None,
            "statut": "EN_COURS",
            "estPrioritaire": True,
            "dateMiseAJour": None,
            "besoins": [
                {"code": "9", "libelle": "Réaliser un CV", "valeur": "BESOIN"},
                {"code": "4", "libelle": "Confirmer son choix de métier", "valeur": "POINT_FORT"},
            ],
        }
    ],
    "contraintesIndividusDto": {
        "conseiller": None,
        "dateDeModification": "2024-01-18T10:42:00.000+01:00",
        "code": "7",
        "libelle": "Résoudre ses contraintes personnelles",
        "contraintes": [
            {
                "code": "23",
                "libelle": "Développer sa mobilité",
                "valeur": "OUI",
                "date": "2024-01-18T10:42:00.000+01:00",
                "situations": [
                    {"code": "6", "libelle": "Aucun moyen de transport", "valeur": "OUI"},
                    {"code": "8", "libelle": "Permis non valide", "valeur": "NON"},
                ],
                "objectifs": [
                    {"code": "28", "libelle": "Obtenir le permis", "valeur": "EN_COURS"},
                    {"code": "29", "libelle": "Trouver une solution", "valeur": "REALISE"},
                ],
            },
            {
                "code": "27",
                "libelle": "Faire face à des difficultés de logement",
                "valeur": "CLOTUREE",
                "date": "2023-11-06T09:00:00.000+01:00",
                "situations": [{"code": "26", "libelle": "Loyer", "valeur": "OUI"}],
                "objectifs": [{"code": "18", "libelle": "Impayés", "valeur": "REALISE"}],
            },
            {
                "code": "28",
                "libelle": "Faire face à des difficultés financières",
                "valeur": "NON_ABORDEE",
                "date": None,
                "situations": [{"code": "30", "libelle": "Baisse", "valeur": "NON_ABORDEE"}],
                "objectifs": [{"code": "13", "libelle": "Budget", "valeur": "NON_ABORDE"}],
            },
        ],
    },
}

_V4 = {
    "besoinsParDiagnostic": [
        {
            "diagnostic": {
                "idDiagnostic": "diag-demo-0001",
                "idMetierChiffre": "8c1b7e52-2d4f-4a6e-b1c3-9f0e7d6a5b42#bWV0aWVyLWRlbW8tMg",
                "nomMetier": "Aide-soignant",
                "typologie": "métier recherché",
                "codeTypologie": "MR",
                "codeSousTypologie": "MR",
                "codeRome": "J1501",
                "codeAppellation": "99999",
                "statut": "EN_COURS",
                "estPrioritaire": True,
                "agent": {
                    "id": "demo0001",
                    "nom": "CONSEILLER",
                    "prenom": "DEMO",
                    "structure": "Agence de démonstration",
                },
                "dateMiseAJour": "2024-05-02T14:00:00.000+02:00",
                "dateMiseAJourProjet": None,
                "estCreationPartenaire": False,
            },
            "dateDerniereExplorationBesoin": "2024-05-02T14:00:00.000+02:00",
            "agentDerniereExplorationBesoin": None,
            "thematiquesBesoins": [
                {
                    "code": "2",
                    "libelle": "Se former",
                    "besoins": [
                        {
                            "code": "5",
                            "libelle": "Trouver sa formation",
                            "valeur": "BESOIN",
                            "agent": None,
                            "dateExploration": "2024-05-02T14:00:00.000+02:00",
                        }
                    ],
                }
            ],
        }
    ],
    "thematiqueContrainte": {
        "agent": None,
        "dateExploration": "2024-05-02T14:10:00.000+02:00",
        "code": "7",
        "libelle": "Résoudre ses contraintes personnelles",
        "declareSansContrainte": {"flag": False, "date": "2024-05-02T14:10:00.000+02:00"},
        "contraintes": [
            {
                "code": "23",
                "libelle": "Développer sa mobilité",
                "valeur": "OUI",
                "estPrioritaire": False,
                "dateExploration": "2024-05-02T14:10:00.000+02:00",
                "impact": "FAIBLE",
                "situations": [
                    {
                        "code": "7",
                        "libelle": "Dépendant des transports en commun",
                        "valeur": "OUI",
                        "dateExploration": "2024-05-02T14:10:00.000+02:00",
                        "agent": None,
                    },
                    {
                        "code": "6",
                        "libelle": "Aucun moyen de transport à disposition",
                        "valeur": "NON_ABORDEE",
                        "dateExploration": None,
                        "agent": None,
                    },
                ],
                "objectifs": [
                    {
                        "code": "29",
                        "libelle": "Accéder à un véhicule",
                        "valeur": "EN_COURS",
                        "dateExploration": "2024-05-02T14:10:00.000+02:00",
                        "agent": None,
                    }
                ],
            }
        ],
    },
    "pouvoirAgir": {
        "confiance": "NON",
        "accompagnement": "NE_SAIT_PAS",
        "resultatAnalyse": "Texte libre de démonstration",
        "agent": None,
        "dateExploration": "2024-05-02T14:20:00.000+02:00",
    },
    "autonomieNumerique": {
        "dateExploration": "2024-05-02T14:25:00.000+02:00",
        "agent": None,
        "contrainte": {
            "code": "22",
            "libelle": "Accéder au numérique",
            "valeur": "OUI",
            "estPrioritaire": False,
            "dateExploration": "2024-05-02T14:25:00.000+02:00",
            "impact": "FAIBLE",
            "situations": [
                {
                    "code": "44",
                    "libelle": "Dispose d'un smartphone",
                    "valeur": "OUI",
                    "dateExploration": "2024-05-02T14:25:00.000+02:00",
                    "agent": None,
                }
            ],
            "objectifs": [
                {
                    "code": "3",
                    "libelle": "Maîtriser les fondamentaux du numérique",
                    "valeur": "EN_COURS",
                    "dateExploration": "2024-05-02T14:25:00.000+02:00",
                    "agent": None,
                }
            ],
        },
        "besoin": {
            "code": "7",
            "libelle": "Connaître et utiliser les services numériques",
            "valeur": "BESOIN",
            "dateExploration": "2024-05-02T14:25:00.000+02:00",
            "agent": None,
        },
    },
}


def dossier_v1():
    return copy.deepcopy(_V1)


def dossier_v4():
    return copy.deepcopy(_V4)


def contrainte_v4(
    code="23", valeur="OUI", date="2024-05-02T14:10:00.000+02:00", situations=(), objectifs=()
):
    def item(code, valeur):
        return {
            "code": code,
            "libelle": "libellé",
            "valeur": valeur,
            "dateExploration": date,
            "agent": None,
        }

    return {
        "code": code,
        "libelle": "libellé",
        "valeur": valeur,
        "estPrioritaire": False,
        "dateExploration": date,
        "situations": [item(c, v) for c, v in situations],
        "objectifs": [item(c, v) for c, v in objectifs],
    }


def dossier_v4_of(*contraintes, date="2024-05-02T14:10:00.000+02:00", sans_contrainte=None):
    family = {"agent": None, "dateExploration": date, "code": "7", "contraintes": list(contraintes)}
    if sans_contrainte is not None:
        family["declareSansContrainte"] = sans_contrainte
    return {"besoinsParDiagnostic": [], "thematiqueContrainte": family}
