"""A webhook receiver on the loopback, scripted by the tests: answers, delays, records, and
checks every body it receives against the published schema (with ``jsonschema``, an
implementation independent of the gateway's check)."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema

from gateway.openapi import SCHEMAS_DIR
from referential import OUTGOING_VERSION


def published(kind: str) -> jsonschema.Draft202012Validator:
    """The validator of a published outgoing schema, formats asserted."""
    path = Path(SCHEMAS_DIR) / OUTGOING_VERSION / f"{kind}.json"
    return jsonschema.Draft202012Validator(
        json.loads(path.read_text(encoding="utf-8")),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


WEBHOOK = published("webhook")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    #: Statuses to answer, in order (or ``(status, headers)``); then ``then``.
    script: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    then: int = 204
    #: Seconds to wait before answering the first request (a slow receiver).
    first_delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_arrived: threading.Event = field(default_factory=threading.Event)

    def answer(self, received: Received) -> tuple[int, dict[str, str], float]:
        with self.lock:
            self.received.append(received)
            first = len(self.received) == 1
            step = self.script.pop(0) if self.script else self.then
        if first:
            self.first_arrived.set()
        status, headers = step if isinstance(step, tuple) else (step, {})
        return status, headers, self.first_delay if first else 0.0

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]


def serve() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer_headers, delay = receiver.answer(Received(headers, body))
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in answer_headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/webhooks")
    with running(server):
        yield receiver
    # Whatever the test was about, every body that arrived is an instance of the schema.
    for received in receiver.received:
        check_webhook(json.loads(received.body))


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[None]:
    """``server`` serving on threads of its own until the block ends, then closed."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def check_webhook(body: dict) -> None:
    """A webhook body against its published schema; embedded sections against the published
    schemas of the referential."""
    WEBHOOK.validate(body)
    carnet = body["donnees"].get("carnet")
    if carnet is not None:
        for name, value in carnet["sections"].items():
            path = Path(SCHEMAS_DIR) / carnet["version_referentiel"] / f"{name}.json"
            schema = jsonschema.Draft202012Validator(
                json.loads(path.read_text(encoding="utf-8")),
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            )
            for instance in value if isinstance(value, list) else [value]:
                schema.validate(instance)
