"""The offline model's understanding, measured by `bench/understanding.py`: every phrasing of
its three corpora sent by a new person through the API, the turn engine, the Agents SDK
Runner and the MCP tools, on SQLite, and judged by what changed in the database.

CI holds each corpus at a floor a little under today's figure (the README quotes them), with
no delete or completion nobody asked for, and the plain command list fully understood.
"""

from __future__ import annotations

from bench.understanding import corpora, evaluate, report, score

# The share of each corpus that must stay right (today: 100 %, 84 %, 81 %).
FLOORS = {"development": 0.97, "held-out A": 0.80, "held-out B": 0.78}


async def test_the_corpora_are_understood_and_nothing_is_destroyed_by_mistake(
    sqlite_url: str,
) -> None:
    results = [(corpus, await evaluate(sqlite_url, corpus.cases)) for corpus in corpora()]
    summary = report(results)  # shown when an assertion fails: what was missed, and how
    assert [corpus.name for corpus, _ in results] == list(FLOORS)
    for corpus, outcomes in results:
        total, kinds = score(outcomes)
        assert total.wrong_destructive == 0, summary
        assert total.share >= FLOORS[corpus.name], summary
        if "plain commands" in kinds:
            assert kinds["plain commands"].share == 1.0, summary
