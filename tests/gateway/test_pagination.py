"""Every list pages the same way: ``apres`` and ``limite`` ask, ``elements`` and ``suivant``
answer, and the ``Link`` header (RFC 8288) names the next page, which a client can follow
without building URLs."""

import re

from tests.gateway.payloads import carnet, new_notebook, personne

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def walk(client, url, headers, **params):
    """Every page of a list, following the Link header: (elements of each page, last page)."""
    pages = []
    response = await client.get(url, params=params, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) >= {"elements", "suivant"}
        pages.append(page["elements"])
        link = response.headers.get("link")
        if page["suivant"] is None:
            assert link is None
            return pages, page
        following = LINK.match(link or "")
        assert following is not None, link
        assert f"apres={page['suivant']}" in following["url"]
        if not page["elements"] and page.get("fin"):
            return pages, page
        response = await client.get(following["url"], headers=headers)


async def test_lists_page_the_same_way_and_link_to_the_next_page(client, partner):
    p = await partner()
    ids = [await new_notebook(client, p, carnet(personne(nom=f"Nom{n}"))) for n in range(5)]
    for _ in range(2):
        await client.get(f"/v1/carnets/{ids[0]}", headers=p.headers)
    for n in range(3):
        created = await client.post(
            "/v1/abonnements",
            json={"url": f"https://si.departement.example/webhooks/{n}"},
            headers=p.headers,
        )
        assert created.status_code == 201, created.text
    # Notebooks: five, two per page, each once.
    pages, _ = await walk(client, "/v1/carnets", p.headers, limite=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(e["id"] for page in pages for e in page) == sorted(ids)
    # The notebook's journal: its creation and two reads, oldest first.
    pages, _ = await walk(client, f"/v1/carnets/{ids[0]}/journal", p.headers, limite=2)
    actions = [e["action"] for page in pages for e in page]
    assert actions[:3] == ["creation", "lecture", "lecture"]
    # Subscriptions, by id.
    pages, _ = await walk(client, "/v1/abonnements", p.headers, limite=2)
    assert [len(page) for page in pages] == [2, 1]
    # The feed: its cursor is never null; the walk stops on an empty page at the end.
    pages, last = await walk(client, "/v1/changements", p.headers, limite=2)
    assert sorted(e["carnet_id"] for page in pages for e in page) == sorted(ids)
    assert last["fin"] is True
    assert last["suivant"] is not None
