"""`python -m bench.understanding`: how well the offline model understands what people type.

Each case of the corpus (`bench/understanding_corpus.py`) is one message, said by a new
person whose task list is the same nine seeded tasks, through the real path a fresh clone
runs: `POST /api/{user_id}/chat` on the API app, the turn engine, the Agents SDK Runner with
the offline model, the MCP tools, a migrated SQLite database. A case may first say other
messages in the same conversation (the context a follow-up such as "make it urgent" needs).

What is judged is what happened, not how: the task list before and after the last message
(through the API), and the arguments of any `list_tasks` call. A case is right when its one
expected effect happened and nothing else changed. A **wrong destructive action** is a task
deleted or completed that the case did not ask to delete or complete; the aim is none.

A delete waits for the person's approval (`pending_approval`). The harness answers as a person
reading the question would: it approves the delete the case asks for, and declines any other —
which still counts as a wrong destructive action ("asked to delete N"), since the model meant
to destroy it. Messages said before the judged one (context) have their deletes approved.

The model's clock is pinned to `TODAY` (a Wednesday), so the corpus spells its dates out.
Three corpora (`corpora()`): the development one the rules were written against, and two
held-out ones written by sessions that had seen neither the rules nor the other corpora.
Written to `bench/UNDERSTANDING.md`; `tests/agent/test_offline_understanding.py` runs the same
harness in CI with a floor per corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx

from bench.databases import sqlite_database
from bench.stack import BASE_URL, bench_settings
from taskpilot.agent.offline import OfflineModel
from taskpilot.api.app import create_api
from taskpilot.core.security import mint_access_token
from taskpilot.data.models import User
from taskpilot.runtime import Runtime
from taskpilot.services.tasks import TaskService

OUTPUT = Path(__file__).resolve().parent / "UNDERSTANDING.md"
TODAY = date(2026, 12, 2)  # a Wednesday
FILTERS = ("status", "priority", "tag", "search", "due_before", "due_after")

# The approvals one message may ask for in a row before the harness gives up on it.
MAX_DECISIONS = 5

Action = Literal["add", "change", "complete", "reopen", "delete", "list", "ask", "nothing"]

# The nine tasks every case starts from; their numbers are 1-9 in this order, and the
# seventh is already done.
SEED: tuple[dict[str, Any], ...] = (
    {"title": "Buy groceries", "tags": ["home"]},
    {"title": "Call the dentist", "due_date": "2026-12-04", "priority": "high"},
    {"title": "Send the invoice to Acme", "tags": ["work"], "due_date": "2026-12-03"},
    {"title": "Pay the electricity bill", "due_date": "2026-12-05"},
    {"title": "Renew passport", "priority": "low"},
    {"title": "Write the quarterly report", "tags": ["work"]},
    {"title": "Book flights to Lisbon"},
    {"title": "Prepare the team meeting", "tags": ["work"]},
    {"title": "Meeting with Sam"},
)
SEED_DONE = 7


@dataclass(frozen=True)
class OneOf:
    """Any of these values is right (a phrase people read more than one way)."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)

    def __contains__(self, value: object) -> bool:
        return value in self.values


@dataclass(frozen=True)
class Expect:
    """The one effect a message should have: `task` is the number it acts on; `fields` the
    values an added or changed task must have (`note`: words its description must hold), or
    the filters a listing must use (any filter not named must be absent)."""

    action: Action
    task: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


def added(title: str, **fields: Any) -> Expect:
    return Expect("add", fields={"title": title, **fields})


def changed(task: int, **fields: Any) -> Expect:
    return Expect("change", task, fields)


def completed(task: int) -> Expect:
    return Expect("complete", task)


def reopened(task: int) -> Expect:
    return Expect("reopen", task)


def deleted(task: int) -> Expect:
    return Expect("delete", task)


def listed(**filters: Any) -> Expect:
    return Expect("list", fields=filters)


def asked() -> Expect:
    """No change: the target is unclear or missing, so the model asks or says so."""
    return Expect("ask")


def nothing() -> Expect:
    """No change and no tool call (small talk, help)."""
    return Expect("nothing")


@dataclass(frozen=True)
class Case:
    kind: str
    say: str
    expect: Expect
    before: tuple[str, ...] = ()


@dataclass
class Outcome:
    case: Case
    right: bool
    wrong_destructive: list[str]
    what_happened: str


# --- judging -------------------------------------------------------------------------------

_ATTRIBUTES = ("title", "description", "completed", "priority", "due_date", "tags", "repeat")


def _norm(text: Any) -> str:
    return re.sub(r"[^\w ]+", "", str(text).casefold()).strip()


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, OneOf):
        return any(_matches(value, actual) for value in expected.values)
    return bool(expected == actual)


def _field_ok(name: str, expected: Any, task: Mapping[str, Any]) -> bool:
    if name == "title":
        return _norm(task["title"]) == _norm(expected)
    if name == "note":
        return _norm(expected) in _norm(task["description"])
    if name == "due":
        return _matches(expected, task["due_date"])
    if name == "tags":
        return sorted(task["tags"]) == sorted(expected)
    return _matches(expected, task.get(name))


def _diff(
    before: Mapping[int, Mapping[str, Any]], after: Mapping[int, Mapping[str, Any]]
) -> tuple[list[int], list[int], dict[int, set[str]]]:
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changes = {
        number: {a for a in _ATTRIBUTES if before[number].get(a) != after[number].get(a)}
        for number in set(before) & set(after)
    }
    return new, gone, {number: attrs for number, attrs in changes.items() if attrs}


def wanted_delete(case: Case, task: Any) -> bool:
    """Whether deleting `task` is what the case asks for (what a person would approve)."""
    return case.expect.action == "delete" and task == case.expect.task


def judge(
    case: Case,
    before: Mapping[int, Mapping[str, Any]],
    after: Mapping[int, Mapping[str, Any]],
    reply: Mapping[str, Any],
    asked_to_delete: Sequence[Any] = (),
) -> Outcome:
    """Whether the message had its one expected effect, and nothing else. `asked_to_delete`:
    the tasks the model asked approval to delete (those not wanted were declined)."""
    expect = case.expect
    new, gone, changes = _diff(before, after)
    finished = [n for n, attrs in changes.items() if "completed" in attrs and after[n]["completed"]]
    # A task that does not exist cannot be destroyed ("delete task 0" is refused by the tool).
    declined = [n for n in asked_to_delete if n in before and not wanted_delete(case, n)]
    destructive = (
        [f"deleted {n}" for n in gone]
        + [f"completed {n}" for n in finished]
        + [f"asked to delete {n}" for n in declined]
    )
    allowed = {"delete": f"deleted {expect.task}", "complete": f"completed {expect.task}"}
    wrong = [act for act in destructive if act != allowed.get(expect.action)]
    calls = [(call["name"], call.get("arguments") or {}) for call in reply.get("tool_calls", [])]
    listings = [args for name, args in calls if name == "list_tasks"]
    quiet = not new and not gone and not changes
    text = str(reply.get("response", ""))

    if expect.action == "add":
        right = len(new) == 1 and not gone and not changes
        if right:
            task = after[new[0]]
            wanted: dict[str, Any] = {"priority": "medium", "tags": [], "due": None, "repeat": None}
            wanted.update(expect.fields)
            right = all(_field_ok(name, value, task) for name, value in wanted.items())
    elif expect.action == "change":
        assert expect.task is not None
        right = not new and not gone and set(changes) == {expect.task}
        if right:
            task = after[expect.task]
            names = {
                "due_date" if n == "due" else "description" if n == "note" else n
                for n in expect.fields
            }
            right = changes[expect.task] == names and all(
                _field_ok(name, value, task) for name, value in expect.fields.items()
            )
    elif expect.action in ("complete", "reopen"):
        assert expect.task is not None
        done = expect.action == "complete"
        right = (
            not new
            and not gone
            and set(changes) == {expect.task}
            and changes[expect.task] == {"completed"}
            and after[expect.task]["completed"] is done
        )
    elif expect.action == "delete":
        right = not new and not changes and gone == [expect.task]
    elif expect.action == "list":
        right = quiet and any(
            all(
                _matches(expect.fields[f], args.get(f))
                if f in expect.fields
                else args.get(f) in (None, "", "all")
                if f == "status"
                else args.get(f) in (None, "")
                for f in FILTERS
            )
            for args in listings
        )
    elif expect.action == "ask":
        right = quiet
    else:
        right = quiet and not calls
    happened = "; ".join(
        [f"added {after[n]['title']!r}" + _brief(after[n]) for n in new]
        + [f"deleted {n}" for n in gone]
        + [f"asked to delete {n} (declined)" for n in declined]
        + [
            f"changed {n}: " + ", ".join(sorted(attrs)) + _brief(after[n])
            for n, attrs in changes.items()
        ]
        + [f"listed {_filters(args)}" for args in listings]
        + ([f"said {text[:90]!r}"] if quiet and not listings else [])
    )
    return Outcome(case, right, wrong, happened or "nothing")


def _brief(task: Mapping[str, Any]) -> str:
    shown = ("due_date", "priority", "tags", "description", "repeat")
    parts = [f"{k}={task[k]}" for k in shown if task.get(k)]
    return f" ({', '.join(parts)})" if parts else ""


def _filters(args: Mapping[str, Any]) -> str:
    shown = {f: args[f] for f in FILTERS if args.get(f) not in (None, "")}
    return str(shown or "{}")


# --- running -------------------------------------------------------------------------------


class Harness:
    """A started runtime with the offline model pinned to `TODAY`, and an API client."""

    def __init__(self, runtime: Runtime, http: httpx.AsyncClient) -> None:
        self.runtime, self.http = runtime, http

    async def _person(self) -> tuple[str, dict[str, str]]:
        user = User(id=uuid.uuid4().hex, email=f"{uuid.uuid4().hex}@example.com")
        async with self.runtime.db.session() as session:
            session.add(user)
            await session.commit()
        token, _ = mint_access_token(self.runtime.settings, user.id, user.email)
        return user.id, {"Authorization": f"Bearer {token}"}

    async def _seed(self, user_id: str) -> None:
        """The nine tasks, through the task service the MCP tools call (not the tools: the
        seed is not what is judged, and ten tool calls a case were half the run's time)."""
        async with self.runtime.db.session() as session:
            tasks = TaskService(session, user_id)
            for task in SEED:
                due = task.get("due_date")
                await tasks.add(
                    task["title"],
                    priority=task.get("priority"),
                    due_date=date.fromisoformat(due) if due else None,
                    tags=task.get("tags"),
                )
            await tasks.complete(SEED_DONE)

    async def _tasks(self, user_id: str, headers: dict[str, str]) -> dict[int, dict[str, Any]]:
        response = await self.http.get(f"/api/{user_id}/tasks", headers=headers)
        response.raise_for_status()
        return {task["task_id"]: task for task in response.json()["tasks"]}

    async def run(self, case: Case) -> Outcome:
        user_id, headers = await self._person()
        await self._seed(user_id)
        conversation: str | None = None
        asked: list[Any] = []  # the tasks the model asked approval to delete

        async def say(text: str, approves: Callable[[Any], bool]) -> dict[str, Any]:
            """Send `text`; answer each delete it waits for with `approves(task)`."""
            nonlocal conversation
            body: dict[str, Any] = {"message": text}
            if conversation:
                body["conversation_id"] = conversation
            response = await self.http.post(f"/api/{user_id}/chat", json=body, headers=headers)
            for _ in range(MAX_DECISIONS):
                response.raise_for_status()
                pending = response.json().get("pending_approval")
                if pending is None:
                    break
                task = pending["arguments"].get("task_id")
                asked.append(task)
                decision = {"approve": approves(task)}
                response = await self.http.post(pending["decide"], json=decision, headers=headers)
            else:
                raise RuntimeError(f"{case.say!r} asked for more than {MAX_DECISIONS} approvals")
            answer: dict[str, Any] = response.json()
            conversation = answer["conversation_id"]
            return answer

        for text in case.before:
            await say(text, approves=lambda task: True)  # context: as the case's author meant
        asked.clear()
        before = await self._tasks(user_id, headers)
        reply = await say(case.say, approves=lambda task: wanted_delete(case, task))
        after = await self._tasks(user_id, headers)
        return judge(case, before, after, reply, asked)


async def evaluate(database_url: str, cases: Sequence[Case]) -> list[Outcome]:
    """Run every case on a fresh runtime over `database_url` (migrated, empty), one after
    another (several at once took longer on SQLite: the run is CPU-bound)."""
    settings = bench_settings(database_url)
    runtime = Runtime(settings, model=OfflineModel(settings, today=lambda: TODAY))
    async with runtime.running():
        app = create_api(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60) as http:
            harness = Harness(runtime, http)
            return [await harness.run(case) for case in cases]


# --- reporting -----------------------------------------------------------------------------


@dataclass
class Score:
    right: int
    total: int
    wrong_destructive: int

    @property
    def share(self) -> float:
        return self.right / self.total if self.total else 0.0


def score(outcomes: Sequence[Outcome]) -> tuple[Score, dict[str, Score]]:
    """Overall, and per kind in the corpus's order."""
    kinds: dict[str, Score] = {}
    for outcome in outcomes:
        kind = kinds.setdefault(outcome.case.kind, Score(0, 0, 0))
        kind.total += 1
        kind.right += outcome.right
        kind.wrong_destructive += len(outcome.wrong_destructive)
    total = Score(
        sum(k.right for k in kinds.values()),
        sum(k.total for k in kinds.values()),
        sum(k.wrong_destructive for k in kinds.values()),
    )
    return total, kinds


def _expected(expect: Expect) -> str:
    fields = ", ".join(f"{k}={v!r}" for k, v in expect.fields.items())
    target = f" {expect.task}" if expect.task is not None else ""
    return f"{expect.action}{target}" + (f" ({fields})" if fields else "")


@dataclass(frozen=True)
class Corpus:
    """A set of phrasings, and how it came to be (what its figure can be trusted for)."""

    name: str
    source: str
    history: str
    cases: Sequence[Case]


def corpora() -> list[Corpus]:
    """The three corpora, in the order they were written."""
    from bench.understanding_corpus import CORPUS
    from bench.understanding_heldout import HELD_OUT
    from bench.understanding_unseen import UNSEEN

    return [
        Corpus(
            "development",
            "bench/understanding_corpus.py",
            "written first, by the session that then wrote the rules against it",
            CORPUS,
        ),
        Corpus(
            "held-out A",
            "bench/understanding_heldout.py",
            "written by a separate session that had seen neither the rules nor the other"
            " corpora; 45 of 100 on its first run, then used to improve the rules",
            HELD_OUT,
        ),
        Corpus(
            "held-out B",
            "bench/understanding_unseen.py",
            "written the same way after A was used; 48 of 80 on its first run (and one"
            " completion nobody asked for), then used for a last round of fixes",
            UNSEEN,
        ),
    ]


def _kind_table(outcomes: Sequence[Outcome]) -> list[str]:
    _, kinds = score(outcomes)
    lines = [
        "| Kind | Right | Cases | Share | Wrong destructive |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, kind in kinds.items():
        lines.append(
            f"| {name} | {kind.right} | {kind.total} | {kind.share:.0%}"
            f" | {kind.wrong_destructive} |"
        )
    return lines


def _missed(outcomes: Sequence[Outcome]) -> list[str]:
    missed = [o for o in outcomes if not o.right or o.wrong_destructive]
    if not missed:
        return ["None."]
    lines = ["| Kind | Said | Expected | What happened |", "| --- | --- | --- | --- |"]
    for outcome in missed:
        said = " → ".join([*outcome.case.before, outcome.case.say]).replace("|", "\\|")
        lines.append(
            f"| {outcome.case.kind} | {said} | {_expected(outcome.case.expect)}"
            f" | {outcome.what_happened.replace('|', '/')} |"
        )
    return lines


def report(results: Sequence[tuple[Corpus, Sequence[Outcome]]]) -> str:
    """The figures of every corpus as Markdown: a summary, then each corpus by kind."""
    lines = [
        "# What the offline model understands",
        "",
        "Written by `python -m bench.understanding` (also `make bench-understanding`)."
        " Regenerate rather than edit.",
        "",
        "Each phrasing is sent by a new person with the same nine seeded tasks, through"
        " `POST /api/{user_id}/chat`, the turn engine, the Agents SDK Runner, the MCP tools and"
        " SQLite. A case is right when its one expected effect happened and nothing else"
        " changed; a wrong destructive action is a delete or a completion nobody asked for."
        " A delete waits for approval: the harness approves the one the case asks for and"
        " declines any other, which still counts as wrong (the model asked to destroy it)."
        f" The model's date is pinned to {TODAY:%A %Y-%m-%d}.",
        "",
        "No corpus here is unseen any more: each was used to improve the rules after its first"
        " run, so the first-run figures are the honest measure of phrasings nobody has tuned"
        " for. Write a new one before the next round.",
        "",
        "| Corpus | Right | Share | Wrong destructive | How it was written |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for corpus, outcomes in results:
        total, _ = score(outcomes)
        lines.append(
            f"| {corpus.name} (`{corpus.source}`) | {total.right} of {total.total}"
            f" | {total.share:.1%} | {total.wrong_destructive} | {corpus.history} |"
        )
    for corpus, outcomes in results:
        lines += ["", f"## {corpus.name}", "", *_kind_table(outcomes), "", "Missed:", ""]
        lines += _missed(outcomes)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: exits 1 if any corpus had a wrong destructive action."""
    parser = argparse.ArgumentParser(prog="python -m bench.understanding", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--kind", help="only the cases of this kind (not written to a file)")
    args = parser.parse_args(argv)
    results = []
    with sqlite_database() as database:
        for corpus in corpora():
            cases = [c for c in corpus.cases if args.kind in (None, c.kind)]
            results.append((corpus, asyncio.run(evaluate(database.url, cases))))
    text = report(results)
    if args.kind is None:
        args.output.write_text(text)
    print(text)
    harmful = sum(score(outcomes)[0].wrong_destructive for _, outcomes in results)
    return 0 if harmful == 0 else 1


if __name__ == "__main__":
    # Run the imported module's `main`, so the corpus and the judge share one `OneOf` class
    # (this file run as `__main__` is a second copy of the module).
    from bench.understanding import main as imported_main

    raise SystemExit(imported_main())
