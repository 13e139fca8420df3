"""The offline model's understanding, measured by `bench/understanding.py`: every phrasing of
its three corpora sent by a new person through the API, the turn engine, the Agents SDK
Runner and the MCP tools, on SQLite, and judged by what changed in the database.

CI holds each corpus at a floor a little under today's figure (the README quotes them), with
no delete or completion nobody asked for, and the plain command list fully understood. A
delete waits for approval: the harness approves only the delete a case asks for, and a delete
the model asks to make of any other task counts as destroyed by mistake all the same.
"""

from __future__ import annotations

from bench.understanding import Case, asked, corpora, deleted, evaluate, judge, report, score

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


def test_a_delete_asked_for_by_mistake_counts_as_destructive_even_when_declined() -> None:
    """The judge of the harness: the model asking approval to delete an existing task nobody
    asked to delete is wrong (a person might approve it); asking to delete a task that does
    not exist destroys nothing; asking for the wanted delete, approved, is right."""
    tasks = {
        n: {"title": f"Task {n}", "description": "", "completed": False, "priority": "medium"}
        | {"due_date": None, "tags": []}
        for n in (1, 2, 3)
    }
    ask = Case("unclear targets", "delete the thing", asked())
    quiet = {"response": "Okay, I didn't touch task 3: nothing was deleted.", "tool_calls": []}
    mistaken = judge(ask, tasks, tasks, quiet, asked_to_delete=[3])
    assert mistaken.wrong_destructive == ["asked to delete 3"] and mistaken.right
    assert judge(ask, tasks, tasks, quiet, asked_to_delete=[0]).wrong_destructive == []
    wanted = Case("plain commands", "delete task 2", deleted(2))
    after = {n: task for n, task in tasks.items() if n != 2}
    approved = judge(wanted, tasks, after, {"tool_calls": []}, asked_to_delete=[2])
    assert approved.right and approved.wrong_destructive == []
