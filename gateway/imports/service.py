"""Importing a partner file through a connector's ``ingest`` capability (the CAF/MSA RSA flux).

A job is a row of ``imports``: the SHA-256 of the file's bytes (never the file, which is kept
in the spool directory only while the job runs), its state, how far it went and its report.

1. The bytes already imported (same SHA-256, job done) are not read again: the new job says
   « deja_importe » and carries the first report.
2. The whole file is read once before anything is applied: a broken envelope rejects it,
   nothing changes. This pass also finds the NIRs that occur in two foyers (« ambigu »).
3. Second pass, one write transaction per foyer (with the job's progress in it: a killed
   import leaves no half-applied foyer and resumes after the last one committed). Each person
   is matched by the 13 characters of the NIR, within the foyer's département, which must be
   one of the uploader's territories where the connector is enabled. What is known of the
   person is submitted through the notebook service as the connector's client (validated,
   habilitated, merged, versioned, attributed) unless the notebook already holds a newer or
   equal observation from the same connector (``imports_suivi``: the file's ``DTREF``, then
   creation date and time) or the same record.

Reports carry positions, lines and codes: never a NIR, a name or a matricule.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from connectors import Capability, Connector, ConnectorError, Ingest, IngestRecord, Notice
from gateway.auth.principal import Principal, principal_of
from gateway.connectors.errors import ConnectorMisconfigured, ConnectorUnknown
from gateway.connectors.loader import Connectors, EnabledConnector
from gateway.connectors.service import connector_guard
from gateway.errors import NotFound, ProblemError
from gateway.habilitation.guard import Guard
from gateway.habilitation.matrix import Matrix
from gateway.notebooks.service import NotebookService
from gateway.notebooks.states import StateCache
from gateway.storage import Session, notebooks, organisations
from gateway.storage import imports as repository
from gateway.storage.database import Database
from gateway.storage.tables import ImportJob, ImportState
from referential import Validator

SLUG = "caf_msa"
ACTION = "import"
PURPOSE = "instruction_rsa"
PENDING, RUNNING, DONE, REJECTED, FAILED = "en_attente", "en_cours", "termine", "rejete", "echec"
#: Foyers applied per write transaction (whole foyers only; the job's progress with them).
BATCH_FOYERS = 100
#: The record kinds the first pass stages for the second.
STAGED = frozenset({"personne", "personne_rejetee", "foyer_rejete"})
#: Report entries kept per job (counts go on past it; the report says it was truncated).
MAX_ENTRIES = 2000
COUNTERS = (
    "foyers_lus",
    "foyers_annonces",
    "foyers_annonces_anomalie",
    "foyers_rejetes",
    "personnes_lues",
    "appliquees",
    "inchangees",
    "obsoletes",
    "non_trouvees",
    "ambigues",
    "invalides",
    "hors_territoire",
    "conflits_identite",
    "refusees",
)
MESSAGES = {
    "personne_non_trouvee": "Aucun carnet pour ce NIR sur le territoire.",
    "personne_ambigue": "NIR présent dans plusieurs foyers du fichier ou plusieurs carnets : rien n'est appliqué.",
    "hors_territoire": "Département du foyer (IDEPARTE) hors des territoires de l'organisation ou du connecteur.",
    "conflit_identite": "La date de naissance du fichier diffère de celle du carnet : rien n'est appliqué.",
    "obsolete": "Le carnet porte une observation plus récente de ce connecteur.",
}
OUTCOME_COUNTER = {
    "appliquee": "appliquees",
    "inchangee": "inchangees",
    "obsolete": "obsoletes",
    "personne_non_trouvee": "non_trouvees",
    "personne_ambigue": "ambigues",
    "hors_territoire": "hors_territoire",
    "conflit_identite": "conflits_identite",
}


class UploaderNotAllowed(ProblemError):
    status = 403
    code = "import_non_autorise"
    title = (
        "Seule une organisation qui pilote un territoire (département) et peut écrire les "
        "droits importe un fichier CAF/MSA."
    )


class _Stopped(Exception):
    """The process stops: the job is left to resume."""


class ImportNotFound(NotFound):
    code = "import_inconnu"
    title = "Import inconnu."


class FileTooLarge(ProblemError):
    status = 413
    code = "fichier_trop_volumineux"
    title = "Fichier trop volumineux."


@dataclass(frozen=True, slots=True)
class Matched:
    """The notebook a person of the file matched."""

    id: str
    date_naissance: str
    #: Its ``personne`` section as the view shows it (JSON), if any.
    personne: bytes | None
    territoire: str
    nir13: str


@dataclass(slots=True)
class Report:
    """The report of one file, built as it is read."""

    fichier: dict[str, Any]
    compteurs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    rejets: list[dict[str, Any]] = field(default_factory=list)
    avertissements: list[dict[str, Any]] = field(default_factory=list)
    tronque: bool = False
    erreur: dict[str, Any] | None = None

    def entry(self, target: list[dict[str, Any]], item: dict[str, Any]) -> None:
        if len(self.rejets) + len(self.avertissements) >= MAX_ENTRIES:
            self.tronque = True
            return
        target.append(item)

    def reject(self, where: dict[str, Any], code: str, message: str) -> None:
        self.entry(self.rejets, {**_position(where), "code": code, "message": message})

    def warn(self, where: dict[str, Any], notice: Notice) -> None:
        self.entry(
            self.avertissements,
            {
                **_position(where),
                "pointer": notice.pointer,
                "code": notice.code,
                "message": notice.message,
            },
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "fichier": self.fichier,
            "compteurs": self.compteurs,
            "rejets": self.rejets,
            "avertissements": self.avertissements,
            "tronque": self.tronque,
            "erreur": self.erreur,
        }


def _position(where: dict[str, Any]) -> dict[str, Any]:
    return {key: where[key] for key in ("foyer", "personne", "ligne") if key in where}


def _now() -> datetime:
    return datetime.now(UTC)


def _canonical_hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def may_upload(guard: Guard) -> bool:
    """An organisation that steers its territories and may write the rights."""
    return guard.actor.portee == "territoire" and guard.actor.may("ecriture", "droits")


class ImportService:
    def __init__(
        self,
        database: Database,
        validator: Validator,
        matrix: Matrix,
        connectors: Connectors,
        *,
        spool: Path,
        states: StateCache | None = None,
        max_bytes: int = 2 * 1024**3,
    ) -> None:
        self.database = database
        self.validator = validator
        self.matrix = matrix
        self.connectors = connectors
        self.spool = spool
        self.states = states
        self.max_bytes = max_bytes
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Stop the running jobs after their current foyer: they stay « en_cours » and resume
        at the next start."""
        self._stopping.set()

    # -- jobs --------------------------------------------------------------------------------

    def enabled(self) -> EnabledConnector:
        entry = self.connectors.get(SLUG)
        if entry is None or Capability.INGEST not in entry.connector.capabilities():
            raise ConnectorUnknown()
        return entry

    def submit(self, uploader: Guard, source: BinaryIO) -> ImportJob:
        """Spool and hash the upload, record the job (done at once when already imported)."""
        if not may_upload(uploader):
            raise UploaderNotAllowed()
        self.enabled()
        job_id = str(uuid.uuid4())
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.path(job_id)
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("wb") as target:
                while chunk := source.read(1024 * 1024):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FileTooLarge(f"Fichier de plus de {self.max_bytes} octets.")
                    digest.update(chunk)
                    target.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        sha256 = digest.hexdigest()
        now = _now()
        principal = uploader.principal
        job = ImportJob(
            id=job_id,
            connecteur=SLUG,
            sha256=sha256,
            organisation_id=principal.organisation_id,
            client_id=principal.client_id,
            statut=PENDING,
            octets=size,
            cree_le=now,
            modifie_le=now,
        )
        with self.database.write() as session:
            earlier = repository.done_with(session, SLUG, sha256, DONE)
            if earlier is not None and earlier.rapport is not None:
                report = dict(earlier.rapport)
                report["fichier"] = {
                    **report["fichier"],
                    "statut": "deja_importe",
                    "import_initial": earlier.id,
                }
                job.statut = DONE
                job.rapport = report
                job.foyers_traites = earlier.foyers_traites
                job.foyers_total = earlier.foyers_total
            repository.save(session, job)
        if job.statut == DONE:
            path.unlink(missing_ok=True)
        return job

    def path(self, job_id: str) -> Path:
        return self.spool / f"{job_id}.xml"

    def staging(self, job_id: str) -> Path:
        """The records the first pass read, for the second (deleted with the file)."""
        return self.spool / f"{job_id}.enr"

    def get(self, job_id: str, organisation_id: str | None = None) -> ImportJob:
        with self.database.read() as session:
            job = repository.job(session, job_id)
        if job is None or (organisation_id is not None and job.organisation_id != organisation_id):
            raise ImportNotFound()
        return job

    def pending(self) -> list[str]:
        """Jobs left waiting or running (by a process that stopped): to resume."""
        with self.database.read() as session:
            return repository.unfinished(session, (PENDING, RUNNING))

    def run(self, job_id: str, progress: Callable[[int, int], None] | None = None) -> ImportJob:
        """Run (or resume) a job to its end: done, rejected, or failed (cleanly)."""
        job = self.get(job_id)
        if job.statut not in (PENDING, RUNNING):
            return job
        token = str(uuid.uuid4())
        with self.database.write() as session:
            if not repository.claim(session, job_id, token, job.proprietaire, _now()):
                return self.get(job_id)
        job.proprietaire = token
        path = self.path(job_id)
        if not path.exists():
            return self._finish(
                job_id,
                FAILED,
                {
                    "fichier": {"sha256": job.sha256, "statut": FAILED},
                    "erreur": {
                        "code": "fichier_perdu",
                        "message": "Le fichier de l'import n'est plus disponible : envoyez-le de nouveau.",
                    },
                },
            )
        try:
            report = self._process(job, path, progress)
        except _Stopped:
            return self.get(job_id)
        except Exception as error:
            # What is committed stays (whole foyers); the job says it failed and why, by code.
            code = error.code if isinstance(error, ProblemError) else "erreur_interne"
            message = (
                str(error)
                if isinstance(error, ProblemError)
                else f"Import interrompu par une erreur ({type(error).__name__})."
            )
            result = self._finish(
                job_id,
                FAILED,
                {
                    "fichier": {"sha256": job.sha256, "statut": FAILED},
                    "erreur": {"code": code, "message": message},
                },
            )
        else:
            status = REJECTED if report.erreur is not None else DONE
            result = self._finish(job_id, status, report.to_wire())
        path.unlink(missing_ok=True)
        self.staging(job_id).unlink(missing_ok=True)
        return result

    def _finish(self, job_id: str, status: str, report: dict[str, Any]) -> ImportJob:
        with self.database.write() as session:
            job = repository.job(session, job_id)
            assert job is not None
            job.statut = status
            job.rapport = report
            job.modifie_le = _now()
            repository.save(session, job)
        return self.get(job_id)

    def _set_running(self, job_id: str, total: int) -> None:
        with self.database.write() as session:
            repository.set_running(session, job_id, RUNNING, total, _now())

    # -- the two passes ----------------------------------------------------------------------

    def _process(
        self, job: ImportJob, path: Path, progress: Callable[[int, int], None] | None
    ) -> Report:
        entry = self.enabled()
        connector = entry.connector
        report = Report(fichier={"sha256": job.sha256, "octets": job.octets})
        uploader = self._uploader(job)
        # First pass: the whole file is valid before anything is applied.
        seen: set[str] = set()
        duplicates: set[str] = set()
        territories: set[str] = set()
        staged = self.staging(job.id)
        try:
            with path.open("rb") as stream, staged.open("wb") as stage:
                for record in _ingest(connector, stream):
                    if record.kind in STAGED:
                        stage.write(_staged(record))
                    if record.kind == "fichier":
                        report.fichier.update(_without_line(record.payload))
                    elif record.kind == "personne":
                        assert record.payload is not None
                        territories.add(str(record.payload["territoire"]))
                        nir = str(record.payload["nir"])
                        if nir in seen:
                            duplicates.add(nir)
                        seen.add(nir)
                    elif record.kind == "transmission":
                        assert record.payload is not None
                        for name in ("foyers_lus", "foyers_annonces", "foyers_annonces_anomalie"):
                            report.compteurs[name] = int(record.payload[name])
                        for notice in record.notices:
                            report.warn({}, notice)
        except ConnectorError as error:
            # The file as a whole is refused (its envelope, its XML, its encoding).
            report.fichier["statut"] = "rejete"
            to_wire = getattr(error, "to_wire", None)
            report.erreur = (
                to_wire() if callable(to_wire) else {"code": error.code, "message": error.message}
            )
            return report
        del seen
        report.fichier["ideparte"] = sorted(territories)
        total = report.compteurs["foyers_lus"]
        self._set_running(job.id, total)
        guards: dict[str, Guard | None] = {}
        done = job.foyers_traites
        if done:
            report.fichier["reprise_apres_foyer"] = done
        observation = "|".join(
            str(report.fichier[k]) for k in ("dtref", "dtcreaflux", "heucreaflux")
        )
        # Second pass, over the records the first one staged (the XML is not parsed again).
        with staged.open("rb") as stage:
            batch: list[tuple[int, list[IngestRecord]]] = []
            for position, records in _foyers(_unstaged(stage)):
                if position <= done:
                    continue
                batch.append((position, records))
                if len(batch) < BATCH_FOYERS:
                    continue
                self._apply_batch(
                    job, entry, uploader, guards, duplicates, batch, observation, report
                )
                batch = []
                if progress is not None:
                    progress(position, total)
            if batch:
                self._apply_batch(
                    job, entry, uploader, guards, duplicates, batch, observation, report
                )
            if progress is not None:
                progress(total, total)
        rejected = report.compteurs["foyers_rejetes"] + sum(
            report.compteurs[name]
            for name in (
                "non_trouvees",
                "ambigues",
                "invalides",
                "hors_territoire",
                "conflits_identite",
                "refusees",
            )
        )
        report.fichier["statut"] = "accepte_avec_rejets" if rejected else "accepte"
        return report

    def _uploader(self, job: ImportJob) -> Principal:
        return self.uploader(job.client_id).principal

    def uploader(self, client_id: str) -> Guard:
        """The rights of an active client, stating the RSA purpose (an upload from the CLI)."""
        rights = organisations.active_client(self.database, client_id)
        if rights is None:
            raise UploaderNotAllowed("Client inconnu ou inactif.")
        principal = principal_of(self.matrix, client_id, rights)
        try:
            return Guard(self.matrix, principal, PURPOSE)
        except ProblemError:
            raise UploaderNotAllowed() from None

    def _guard(
        self, entry: EnabledConnector, guards: dict[str, Guard | None], territoire: str
    ) -> Guard | None:
        if territoire not in guards:
            try:
                guards[territoire] = connector_guard(self.database, self.matrix, entry, territoire)
            except ConnectorMisconfigured:
                guards[territoire] = None
        return guards[territoire]

    def _apply_batch(
        self,
        job: ImportJob,
        entry: EnabledConnector,
        uploader: Principal,
        guards: dict[str, Guard | None],
        duplicates: set[str],
        batch: list[tuple[int, list[IngestRecord]]],
        observation: str,
        report: Report,
    ) -> None:
        """Whole foyers in one transaction, with the job's progress (never half a foyer)."""
        if self._stopping.is_set():
            raise _Stopped()
        results: list[list[str | None]] = []
        with self.database.write() as session:
            for _, records in batch:
                outcomes: list[str | None] = [None] * len(records)
                for index, record in enumerate(records):
                    if record.kind != "personne":
                        continue
                    assert record.payload is not None
                    territoire = str(record.payload["territoire"])
                    guard = None
                    if territoire in uploader.territoires and territoire in entry.clients:
                        guard = self._guard(entry, guards, territoire)
                    if guard is None:
                        outcomes[index] = "hors_territoire"
                        continue
                    outcomes[index] = self._apply_person(
                        session, job, guard, duplicates, record.payload, observation
                    )
                results.append(outcomes)
            if not repository.progress(session, job.id, batch[-1][0], job.proprietaire, _now()):
                raise _Stopped()  # another process took the job over: this batch rolls back
        for (_, records), outcomes in zip(batch, results, strict=True):
            self._count(report, records, outcomes)

    def _apply_person(
        self,
        session: Session,
        job: ImportJob,
        guard: Guard,
        duplicates: set[str],
        payload: Any,
        observation: str,
    ) -> str:
        nir = str(payload["nir"])
        if nir in duplicates:
            return "personne_ambigue"
        rows = repository.by_nir(session, nir, payload["territoire"])
        if not rows:
            return "personne_non_trouvee"
        if len(rows) > 1:
            return "personne_ambigue"
        (found,) = rows
        row = Matched(found[0], str(found[1])[:10], found[2], payload["territoire"], nir)
        if row.date_naissance != payload["date_naissance"]:
            notebooks.record_access(
                session, guard.entry(ACTION, row.id, ["identite"], "conflit_identite")
            )
            return "conflit_identite"
        contribution = payload["contribution"]
        fingerprint = _canonical_hash(contribution)
        state = repository.last_applied(session, SLUG, row.id)
        outcome: str
        if state is not None and state[0] > observation:
            outcome = "obsolete"
        elif state is not None and (state[1] == fingerprint or state[0] == observation):
            outcome = "inchangee"
        else:
            try:
                with session.begin_nested():
                    outcome = self._write(session, guard, row, contribution)
            except ProblemError as error:
                notebooks.record_access(
                    session, guard.entry(ACTION, row.id, ["droits", "situation"], "refusee")
                )
                return f"refusee:{error.code}"
        if outcome in ("appliquee", "inchangee") and (state is None or state[0] < observation):
            repository.remember(
                session,
                ImportState(
                    connecteur=SLUG,
                    carnet_id=row.id,
                    observation=observation,
                    empreinte=fingerprint,
                    import_id=job.id,
                ),
            )
        notebooks.record_access(
            session, guard.entry(ACTION, row.id, ["droits", "situation"], outcome)
        )
        return outcome

    def _write(
        self, session: Session, guard: Guard, row: Matched, contribution: dict[str, Any]
    ) -> str:
        personne = orjson.loads(row.personne) if row.personne is not None else {}
        body: dict[str, Any] = {
            "territoire": row.territoire,
            "personne": {
                "nom": personne.get("nom"),
                "prenom": personne.get("prenom"),
                "date_naissance": row.date_naissance,
                "nir": row.nir13,
            },
            **contribution,
        }
        service = NotebookService(
            session,
            self.validator,
            guard,
            lock=self.database.lock,
            states=self.states,
            on_commit=self.database.on_commit,
        )
        written = service.create_or_find(orjson.dumps(body), with_view=False)
        if written.outcome.changed:
            return "appliquee"
        if written.outcome.ignores_obsoletes:
            return "obsolete"
        return "inchangee"

    def _count(
        self, report: Report, records: list[IngestRecord], outcomes: list[str | None]
    ) -> None:
        counters = report.compteurs
        for record, outcome in zip(records, outcomes, strict=True):
            where = dict(record.payload or {})
            if record.kind == "foyer_rejete":
                counters["foyers_rejetes"] += 1
                for notice in record.notices:
                    report.reject(where, notice.code, notice.message)
                continue
            if record.kind == "personne_rejetee":
                counters["personnes_lues"] += 1
                counters["invalides"] += 1
                for notice in record.notices:
                    report.reject(where, notice.code, notice.message)
                continue
            if record.kind != "personne" or outcome is None:
                continue
            counters["personnes_lues"] += 1
            if outcome.startswith("refusee:"):
                counters["refusees"] += 1
                code = outcome.split(":", 1)[1]
                report.reject(
                    where, code, "Refusé par le service des carnets : rien n'est appliqué."
                )
                continue
            counters[OUTCOME_COUNTER[outcome]] += 1
            if outcome in MESSAGES and outcome != "obsolete":
                report.reject(where, outcome, MESSAGES[outcome])
            if outcome in ("appliquee", "inchangee", "obsolete"):
                for notice in record.notices:
                    report.warn(where, notice)


def _ingest(connector: Connector, stream: BinaryIO) -> Iterator[IngestRecord]:
    assert isinstance(connector, Ingest)
    return connector.ingest(stream)


def _staged(record: IngestRecord) -> bytes:
    notices = [[n.pointer, n.code, n.message] for n in record.notices]
    return orjson.dumps([record.position, record.kind, record.payload, notices]) + b"\n"


def _unstaged(stage: BinaryIO) -> Iterator[IngestRecord]:
    for line in stage:
        position, kind, payload, notices = orjson.loads(line)
        yield IngestRecord(position, kind, payload, tuple(Notice(*n) for n in notices))


def _without_line(payload: Any) -> dict[str, Any]:
    return {key: value for key, value in dict(payload or {}).items() if key != "ligne"}


def _foyers(records: Iterator[IngestRecord]) -> Iterator[tuple[int, list[IngestRecord]]]:
    """The records of each foyer, together (the connector yields them in a row)."""
    current: list[IngestRecord] = []
    position = 0
    for record in records:
        if record.kind in ("fichier", "transmission"):
            continue
        if current and record.position != position:
            yield position, current
            current = []
        position = record.position
        current.append(record)
    if current:
        yield position, current
