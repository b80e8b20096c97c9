"""Hostile and malformed requests: size limit, broken JSON, shapes, lengths, headers.

None of them may end in a 5xx, and a refused write stores nothing.
"""

import json

import pytest

from tests.gateway.payloads import body, carnet, personne

MAX_BODY = 1024 * 1024


async def new_notebook(client, p):
    response = await client.post("/v1/carnets", content=body(carnet()), headers=p.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def listed(client, p):
    response = await client.get("/v1/carnets", headers=p.headers)
    assert response.status_code == 200
    return response.json()["elements"]


async def version_of(client, p, carnet_id):
    response = await client.get(f"/v1/carnets/{carnet_id}", headers=p.headers)
    assert response.status_code == 200
    return response.json()["version"]


def padded(document, size):
    """``document`` as JSON padded with trailing whitespace to exactly ``size`` bytes."""
    raw = body(document)
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def chunks(raw, size=64 * 1024):
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


async def send(client, p, method, url, content, **headers):
    """The response; an exception escaping the app fails the test as a server error."""
    try:
        return await client.request(method, url, content=content, headers=p.headers | headers)
    except Exception as error:  # the test transport re-raises what the app did not handle
        pytest.fail(f"server error: unhandled {type(error).__name__}: {error}")


def write_targets(carnet_id):
    return [
        ("POST", "/v1/carnets"),
        ("POST", f"/v1/carnets/{carnet_id}/contributions"),
        ("PATCH", f"/v1/carnets/{carnet_id}/diagnostic"),
    ]


# -- body size --------------------------------------------------------------------------------


async def test_body_over_the_limit_with_content_length_is_413(client, partner):
    p = await partner()
    response = await client.post(
        "/v1/carnets", content=padded(carnet(), MAX_BODY + 1), headers=p.headers
    )
    problem = assert_problem(response, 413)
    assert problem["code"] == "corps_trop_volumineux"
    assert response.request.headers["content-length"] == str(MAX_BODY + 1)


async def test_streamed_body_over_the_limit_without_content_length_is_413(client, partner):
    p = await partner()
    response = await client.post(
        "/v1/carnets", content=chunks(padded(carnet(), 2 * MAX_BODY)), headers=p.headers
    )
    problem = assert_problem(response, 413)
    assert problem["code"] == "corps_trop_volumineux"
    assert "content-length" not in response.request.headers


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "streamed"])
async def test_body_over_the_limit_stores_nothing(client, partner, streamed):
    p = await partner()
    raw = padded(carnet(), MAX_BODY + 1)
    response = await client.post(
        "/v1/carnets", content=chunks(raw) if streamed else raw, headers=p.headers
    )
    assert response.status_code == 413
    assert await listed(client, p) == []


async def test_body_of_exactly_the_limit_is_accepted(client, partner):
    p = await partner()
    response = await client.post(
        "/v1/carnets", content=padded(carnet(), MAX_BODY), headers=p.headers
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "streamed"])
async def test_contribution_over_the_limit_is_413_and_changes_nothing(client, partner, streamed):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    raw = padded({"droits": {"are": True}}, MAX_BODY + 1)
    response = await client.post(
        f"/v1/carnets/{carnet_id}/contributions",
        content=chunks(raw) if streamed else raw,
        headers=p.headers,
    )
    assert_problem(response, 413)
    assert await version_of(client, p, carnet_id) == 1


async def test_section_write_over_the_limit_is_413(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await client.patch(
        f"/v1/carnets/{carnet_id}/droits",
        content=padded({"are": True}, MAX_BODY + 1),
        headers=p.headers,
    )
    assert_problem(response, 413)
    assert await version_of(client, p, carnet_id) == 1


# -- malformed JSON and wrong shapes ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"personne": ', b"{'personne': {}}", b'{"personne": {}} trailing', b"\xff\xfe"],
    ids=["truncated", "single-quotes", "trailing-garbage", "not-utf8"],
)
async def test_malformed_json_is_422_pointing_at_the_document(client, partner, raw):
    p = await partner()
    problem = assert_problem(await client.post("/v1/carnets", content=raw, headers=p.headers), 422)
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("", "json_invalide")]


async def test_invalid_utf8_inside_a_string_is_422(client, partner):
    p = await partner()
    raw = b'{"personne": {"nom": "H\xe9", "prenom": "A", "date_naissance": "1990-04-15"}}'
    problem = assert_problem(await client.post("/v1/carnets", content=raw, headers=p.headers), 422)
    assert [e["code"] for e in problem["errors"]] == ["json_invalide"]
    assert await listed(client, p) == []


async def test_empty_body_is_422(client, partner):
    p = await partner()
    problem = assert_problem(await client.post("/v1/carnets", content=b"", headers=p.headers), 422)
    assert [e["pointer"] for e in problem["errors"]] == [""]


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b"null", b'"carnet"', b"42", b"true"])
async def test_json_that_is_not_an_object_is_422(client, partner, raw):
    p = await partner()
    problem = assert_problem(await client.post("/v1/carnets", content=raw, headers=p.headers), 422)
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [("", "type_invalide")]


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        (carnet(inconnu=1), "/inconnu"),
        (carnet(personne(surnom="Lou")), "/personne/surnom"),
        (
            carnet(diagnostic={"situations": [{"code": "mobilite.permis_b", "note": "x"}]}),
            "/diagnostic/situations/0/note",
        ),
    ],
    ids=["top-level", "nested", "in-a-list"],
)
async def test_unknown_field_is_422_with_its_pointer(client, partner, document, pointer):
    p = await partner()
    problem = assert_problem(
        await client.post("/v1/carnets", content=body(document), headers=p.headers), 422
    )
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [(pointer, "champ_inconnu")]


async def test_unknown_field_in_a_contribution_is_422_and_changes_nothing(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await client.post(
        f"/v1/carnets/{carnet_id}/contributions",
        content=body({"droits": {"are": True, "rsa_socle": True}}),
        headers=p.headers,
    )
    problem = assert_problem(response, 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/droits/rsa_socle"]
    assert await version_of(client, p, carnet_id) == 1


@pytest.mark.parametrize("target", range(3), ids=["create", "contribution", "section"])
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"diagnostic": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
    ids=["arrays", "objects", "inside-a-section"],
)
async def test_deeply_nested_json_is_a_client_error(client, partner, target, raw):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    method, url = write_targets(carnet_id)[target]
    response = await send(client, p, method, url, raw)
    assert 400 <= response.status_code < 500, response.text
    assert await version_of(client, p, carnet_id) == 1


@pytest.mark.parametrize(
    ("section", "pointer"),
    [
        (
            {"diagnostic": {"situations": [{"code": "mobilite.permis_b"}] * 501}},
            "/diagnostic/situations",
        ),
        (
            {
                "evenements": [
                    {"id": f"e{n}", "type": "autre", "date": "2026-01-05T10:00:00Z", "libelle": "L"}
                    for n in range(501)
                ]
            },
            "/evenements",
        ),
        ({"coordonnees": {"telephones": ["0601020304"] * 6}}, "/coordonnees/telephones"),
    ],
    ids=["situations", "evenements", "telephones"],
)
async def test_array_over_its_documented_maximum_is_422(client, partner, section, pointer):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await client.post(
        f"/v1/carnets/{carnet_id}/contributions", content=body(section), headers=p.headers
    )
    problem = assert_problem(response, 422)
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [(pointer, "trop_d_elements")]
    assert await version_of(client, p, carnet_id) == 1


async def test_array_at_its_documented_maximum_is_accepted(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    events = [
        {"id": f"e{n}", "type": "autre", "date": "2026-01-05T10:00:00Z", "libelle": "L"}
        for n in range(500)
    ]
    response = await client.post(
        f"/v1/carnets/{carnet_id}/contributions",
        content=body({"evenements": events}),
        headers=p.headers,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["resultat"]["appliques"]) == 500


@pytest.mark.parametrize("field", ["nom", "prenom"])
async def test_nul_character_in_a_name_is_never_a_server_error(request, client, partner, db, field):
    p = await partner()
    document = carnet(personne(**{field: "Exem\u0000ple"}))
    response = await send(client, p, "POST", "/v1/carnets", json.dumps(document).encode())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "caracteres_interdits"


# -- Idempotency-Key --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k" * 256, "k" * 10_000, "", "tab\there"])
async def test_invalid_idempotency_key_is_400_and_stores_nothing(client, partner, key):
    p = await partner()
    response = await client.post(
        "/v1/carnets", content=body(carnet()), headers=p.headers | {"Idempotency-Key": key}
    )
    problem = assert_problem(response, 400)
    assert problem["code"] == "cle_idempotence_invalide"
    assert await listed(client, p) == []


async def test_idempotency_key_of_255_characters_is_accepted(client, partner):
    p = await partner()
    response = await client.post(
        "/v1/carnets", content=body(carnet()), headers=p.headers | {"Idempotency-Key": "k" * 255}
    )
    assert response.status_code == 201, response.text
