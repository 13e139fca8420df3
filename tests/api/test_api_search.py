"""`GET /api/{user_id}/search`: a person's conversations by the words of their titles and
messages, through the real API app, the offline model's real turns and the real database."""

from __future__ import annotations

from typing import Any

import httpx

from taskpilot.runtime import Runtime
from taskpilot.services.search import MAX_QUERY_CHARS
from tests.support.harness import api_client, sign_up
from tests.support.hostile_corpus import MARKUP, ODD_UNICODE, SQL_INJECTION


async def say(http: httpx.AsyncClient, me: dict[str, Any], message: str) -> str:
    """Send a message in a new conversation (the offline model answers it); its id."""
    response = await http.post(
        f"/api/{me['id']}/chat", json={"message": message}, headers=me["headers"]
    )
    assert response.status_code == 200, response.text
    return str(response.json()["conversation_id"])


async def test_search_finds_conversations_with_a_marked_snippet(offline_runtime: Runtime) -> None:
    async with api_client(offline_runtime) as http:
        ada = await sign_up(http, "ada@example.com")
        bob = await sign_up(http, "bob@example.com")
        garden = await say(http, ada, "add water the ferns every monday")
        await say(http, ada, "add buy milk")
        await say(http, bob, "add water the ferns")

        response = await http.get(
            f"/api/{ada['id']}/search", params={"q": "fern"}, headers=ada["headers"]
        )
        assert response.status_code == 200, response.text
        [hit] = response.json()["results"]
        assert hit["conversation"]["id"] == garden
        assert isinstance(hit["message_id"], int)
        assert {"text": "ferns", "marked": True} in hit["snippet"]
        assert all(set(part) == {"text", "marked"} for part in hit["snippet"] + hit["title"])

        # The reply is searched too (the offline model says "Added task 1: …").
        replies = await http.get(
            f"/api/{ada['id']}/search", params={"q": "added milk"}, headers=ada["headers"]
        )
        assert len(replies.json()["results"]) == 1

        # Another person's path is refused; their own search never shows Ada's.
        assert (
            await http.get(f"/api/{ada['id']}/search", params={"q": "fern"}, headers=bob["headers"])
        ).status_code == 403
        theirs = await http.get(
            f"/api/{bob['id']}/search", params={"q": "fern milk"}, headers=bob["headers"]
        )
        assert theirs.json() == {"results": []}
        assert (await http.get(f"/api/{ada['id']}/search", params={"q": "x"})).status_code == 401


async def test_any_query_text_answers_results_or_none(offline_runtime: Runtime) -> None:
    async with api_client(offline_runtime) as http:
        ada = await sign_up(http)
        await say(http, ada, "add water the ferns")
        url = f"/api/{ada['id']}/search"
        queries = [
            '"',
            'ferns "water',
            "*",
            "NEAR(ferns water)",
            "ferns OR",
            "-ferns",
            ":",
            "ferns:*",
            "🌿",
            "",
            "x" * MAX_QUERY_CHARS,
            *SQL_INJECTION,
            *MARKUP,
            *ODD_UNICODE,
        ]
        for query in queries:
            response = await http.get(url, params={"q": query}, headers=ada["headers"])
            assert response.status_code == 200, (query, response.text)
            assert isinstance(response.json()["results"], list)
        assert (await http.get(url, params={"q": 'ferns "water'}, headers=ada["headers"])).json()[
            "results"
        ]

        too_long = await http.get(
            url, params={"q": "x" * (MAX_QUERY_CHARS + 1)}, headers=ada["headers"]
        )
        assert too_long.status_code == 422
        assert set(too_long.json()) == {"detail", "code"}
        for params in ({"q": "x", "limit": "0"}, {"q": "x", "limit": "51"}):
            refused = await http.get(url, params=params, headers=ada["headers"])
            assert refused.status_code == 422, params
        nothing = await http.get(url, headers=ada["headers"])
        assert nothing.json() == {"results": []}


async def test_the_openapi_document_describes_search(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    operation = spec["paths"]["/api/{user_id}/search"]["get"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/SearchResults"}
    hit = spec["components"]["schemas"]["SearchHit"]
    assert set(hit["required"]) == {"conversation", "title", "message_id", "snippet"}
    assert {p["name"] for p in operation["parameters"]} >= {"user_id", "q", "limit"}
