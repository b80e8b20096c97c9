"""The baseline of bench/http.py: a bare FastAPI app doing only the unavoidable work.

- ``POST /parse``: reads the raw body and parses it with the notebook model
  (``model_validate_json``), as the gateway's write path must at least do;
- ``GET /notebook``: returns a ~10 KB notebook held in memory, as a read must at least do.
"""

from __future__ import annotations

import os
import random

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from referential import samples
from referential.models import Contribution

app = FastAPI()
_NOTEBOOK = orjson.dumps(
    samples.generate_carnet(random.Random(int(os.environ.get("SEED", "7"))), size="large")
)


@app.post("/parse")
async def parse(request: Request) -> Response:
    body = await request.body()
    Contribution.model_validate_json(body)
    return Response(b'{"ok":true}', media_type="application/json")


@app.get("/notebook")
async def notebook() -> Response:
    return Response(_NOTEBOOK, media_type="application/json")
