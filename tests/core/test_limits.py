"""Limits that protect the service: turns per minute and turns at once per user, sign-in
attempts (more in `test_sign_in_hardening.py`); in the process, and in Redis shared by every
worker.

Redis is the real server on 127.0.0.1:6379 (skipped, with the reason, when it is down); each
test uses its own key prefix by using fresh user ids and emails.

Time in the process is a fake clock the tests move, so windows and leases end exactly when a
test says, however busy the machine. Redis keeps its own time: its windows are checked with
margins no stall can cross, and its leases through the expiry Redis holds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import prometheus_client
import pytest
import redis
from agents.testing import ScriptedModel, assistant_message
from chatkit.types import ThreadCreateParams, ThreadsCreateReq

from taskpilot.core.config import Settings
from taskpilot.core.limits import Limits
from taskpilot.core.limits.addresses import client_address
from taskpilot.core.limits.counters import PREFIX
from taskpilot.core.limits.refusals import RateLimited
from taskpilot.runtime import Runtime
from taskpilot.services.conversations import ConversationStore
from tests.support.chatkit_client import ChatKitClient, user_input
from tests.support.harness import (
    REDIS_URL,
    api_client,
    make_settings,
    needs_redis,
    scripted_runtime,
    sign_up,
)


class GatedModel(ScriptedModel):
    """A scripted model whose replies wait for `gate`: turns stay running until the test
    lets them finish."""

    def __init__(self, replies: int) -> None:
        super().__init__([[assistant_message("done")] for _ in range(replies)])
        self.gate = asyncio.Event()

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        await self.gate.wait()
        return await super().get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        await self.gate.wait()
        async for event in super().stream_response(*args, **kwargs):
            yield event


def limited(url: str, **overrides: Any) -> Settings:
    return make_settings(url, **overrides)


class Clock:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- the counters --------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=needs_redis)])
async def test_turns_per_minute_then_a_429_with_the_wait(sqlite_url: str, shared: bool) -> None:
    settings = limited(
        sqlite_url,
        chat_turns_per_minute=2,
        max_concurrent_turns=0,
        reflex_redis_url=REDIS_URL if shared else None,
    )
    clock, user = Clock(), f"u-{uuid.uuid4().hex}"
    limits = Limits(settings, clock=clock)  # Redis keeps its own time
    for _ in range(2):
        await (await limits.admit_turn(user)).release()
        clock.advance(5)
    with pytest.raises(RateLimited) as refused:
        await limits.admit_turn(user)
    assert "limit of 2 messages a minute" in refused.value.message
    # Someone else is not affected.
    await limits.admit_turn(f"other-{user}")
    if shared:
        # Whatever this machine took since the first turn, it was far less than half a minute.
        assert 30 <= refused.value.retry_after <= 60
    else:
        # The first turn, 10 s ago, leaves the window in 50 s; then there is room again.
        assert refused.value.retry_after == 50
        assert "try again in 50 s" in refused.value.message
        clock.advance(49.5)
        with pytest.raises(RateLimited):
            await limits.admit_turn(user)
        clock.advance(0.5)
        await limits.admit_turn(user)
    await limits.close()


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=needs_redis)])
async def test_running_turns_are_capped_and_a_slot_frees_on_release(
    sqlite_url: str, shared: bool
) -> None:
    settings = limited(
        sqlite_url,
        chat_turns_per_minute=0,
        max_concurrent_turns=2,
        reflex_redis_url=REDIS_URL if shared else None,
    )
    limits, user = Limits(settings, clock=Clock()), f"u-{uuid.uuid4().hex}"
    first, second = await limits.admit_turn(user), await limits.admit_turn(user)
    with pytest.raises(RateLimited) as refused:
        await limits.admit_turn(user)
    assert "2 replies on the way" in refused.value.message
    assert 1 <= refused.value.retry_after <= 5
    await first.release()
    await first.release()  # idempotent: it does not free a second place
    third = await limits.admit_turn(user)
    with pytest.raises(RateLimited):
        await limits.admit_turn(user)
    for slot in (second, third):
        await slot.release()
    await limits.close()


async def test_a_dead_workers_slot_frees_when_its_lease_ends(sqlite_url: str) -> None:
    clock, user = Clock(), f"u-{uuid.uuid4().hex}"
    limits = Limits(limited(sqlite_url, max_concurrent_turns=1), clock=clock)
    lease = limits.turns.lease_seconds
    await limits.admit_turn(user)  # never released: its worker "died"
    clock.advance(lease - 1)
    with pytest.raises(RateLimited) as refused:
        await limits.admit_turn(user)
    assert refused.value.retry_after == 1  # the lease's last second
    clock.advance(1)
    await limits.admit_turn(user)


@needs_redis
async def test_a_dead_workers_slot_in_redis_frees_when_its_lease_ends(sqlite_url: str) -> None:
    """In Redis a slot is its lease's expiry, by Redis's clock, in a key that expires with it.
    The lease running out is made by moving that expiry into the past, as the waiting would."""
    settings = limited(sqlite_url, max_concurrent_turns=1, reflex_redis_url=REDIS_URL)
    limits, user = Limits(settings), f"u-{uuid.uuid4().hex}"
    await limits.admit_turn(user)  # never released: its worker "died"
    with pytest.raises(RateLimited):
        await limits.admit_turn(user)

    store = redis.Redis.from_url(REDIS_URL)
    key, lease_ms = f"{PREFIX}running:{user}", limits.turns.lease_seconds * 1000
    [(slot, expiry)] = store.zrange(key, 0, -1, withscores=True)
    seconds, micros = store.time()
    now_ms = seconds * 1000 + micros // 1000
    # Both no further off than any stall since the admission (margins of half a minute).
    assert lease_ms - 30_000 < expiry - now_ms <= lease_ms
    assert lease_ms - 30_000 < store.pttl(key) <= lease_ms

    store.zadd(key, {slot: now_ms - 1})
    await limits.admit_turn(user)
    store.close()
    await limits.close()


@needs_redis
async def test_workers_share_the_limits_through_redis(sqlite_url: str) -> None:
    settings = limited(
        sqlite_url, chat_turns_per_minute=3, max_concurrent_turns=1, reflex_redis_url=REDIS_URL
    )
    worker_a, worker_b = Limits(settings), Limits(settings)
    user = f"u-{uuid.uuid4().hex}"
    slot = await worker_a.admit_turn(user)
    with pytest.raises(RateLimited):  # the running turn is on the other worker
        await worker_b.admit_turn(user)
    await slot.release()
    await (await worker_b.admit_turn(user)).release()
    await (await worker_a.admit_turn(user)).release()
    with pytest.raises(RateLimited):  # three started, on two workers
        await worker_b.admit_turn(user)

    email = f"{uuid.uuid4().hex}@example.com"  # this run's own (the windows outlive the test)
    settings = limited(sqlite_url, sign_in_attempts=2, reflex_redis_url=REDIS_URL)
    worker_a, worker_b = Limits(settings), Limits(settings)
    await worker_a.sign_in_attempt(email, "203.0.113.5")
    await worker_b.sign_in_attempt(email.upper(), "203.0.113.5")
    with pytest.raises(RateLimited):
        await worker_a.sign_in_attempt(email, "203.0.113.5")
    for limits in (worker_a, worker_b):
        await limits.close()


async def test_an_unreachable_redis_lets_requests_through_and_says_so_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = limited(
        sqlite_url,
        chat_turns_per_minute=1,
        sign_in_attempts=1,
        reflex_redis_url="redis://127.0.0.1:1/0",
    )
    clock = Clock()
    limits = Limits(settings, clock=clock)
    with caplog.at_level(logging.WARNING, logger="taskpilot.limits"):
        for _ in range(3):
            await (await limits.admit_turn("ada")).release()
            await limits.sign_in_attempt("ada@example.com", "10.0.0.1")
            clock.advance(10)
    warnings = [r for r in caplog.records if r.name == "taskpilot.limits"]
    assert len(warnings) == 1 and "Redis is unreachable" in warnings[0].getMessage()
    clock.advance(31)  # a minute and a second since it was said
    with caplog.at_level(logging.WARNING, logger="taskpilot.limits"):
        await limits.sign_in_attempt("ada@example.com", "10.0.0.1")
    assert len([r for r in caplog.records if r.name == "taskpilot.limits"]) == 2
    await limits.close()


def test_the_client_address_comes_through_the_trusted_proxies_only() -> None:
    forwarded = "203.0.113.9, 198.51.100.7, 10.0.0.2"
    assert client_address("10.0.0.1", forwarded, 0) == "10.0.0.1"  # a client could forge it
    assert client_address("10.0.0.1", forwarded, 1) == "10.0.0.2"
    assert client_address("10.0.0.1", forwarded, 2) == "198.51.100.7"
    assert client_address("10.0.0.1", forwarded, 5) == "203.0.113.9"
    assert client_address(None, None, 1) == "unknown"


# --- through the API -----------------------------------------------------------------------


@pytest.fixture
async def gated(sqlite_url: str, running: Any) -> AsyncIterator[tuple[Runtime, GatedModel]]:
    model = GatedModel(replies=10)
    settings = limited(sqlite_url, chat_turns_per_minute=3, max_concurrent_turns=1)
    runtime = await running(scripted_runtime(settings, model))
    yield runtime, model
    model.gate.set()


async def test_chat_api_answers_429_with_retry_after_and_stores_nothing(
    gated: tuple[Runtime, GatedModel],
) -> None:
    runtime, model = gated
    async with api_client(runtime) as http:
        me = await sign_up(http)
        chat = f"/api/{me['id']}/chat"
        running_turn = asyncio.create_task(
            http.post(chat, json={"message": "first"}, headers=me["headers"])
        )
        while not (await _messages(runtime, me["id"])):
            await asyncio.sleep(0.01)

        busy = await http.post(chat, json={"message": "second"}, headers=me["headers"])
        assert busy.status_code == 429
        assert busy.json()["code"] == "rate_limited"
        assert busy.json()["detail"].startswith("You already have a reply on the way")
        assert 1 <= int(busy.headers["retry-after"]) <= 5

        model.gate.set()
        assert (await running_turn).json()["response"] == "done"
        for text in ("third", "fourth"):
            ok = await http.post(chat, json={"message": text}, headers=me["headers"])
            assert ok.status_code == 200
        over = await http.post(chat, json={"message": "fifth"}, headers=me["headers"])
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 5
        assert "limit of 3 messages a minute" in over.json()["detail"]

        stored = [m.content for m in await _messages(runtime, me["id"]) if m.role == "user"]
        assert sorted(stored) == ["first", "fourth", "third"]  # refused turns left nothing behind
        # Reading is not a turn: still allowed.
        listed = await http.get(f"/api/{me['id']}/conversations", headers=me["headers"])
        assert listed.status_code == 200


async def test_chatkit_refuses_with_429_before_any_stream_starts(
    gated: tuple[Runtime, GatedModel],
) -> None:
    runtime, model = gated
    async with api_client(runtime) as http:
        me = await sign_up(http)
        chatkit = ChatKitClient(http, me["headers"])
        first = asyncio.create_task(chatkit.create("first"))
        while not (await _messages(runtime, me["id"])):
            await asyncio.sleep(0.01)
        busy = await chatkit.send(
            ThreadsCreateReq(params=ThreadCreateParams(input=user_input("second")))
        )
        assert busy.status_code == 429 and 1 <= int(busy.headers["retry-after"]) <= 5
        assert busy.json()["code"] == "rate_limited"
        model.gate.set()
        await first
        # The finished stream gave its slot back.
        events = await chatkit.create("third")
        assert any(event.type == "thread.item.done" for event in events)


async def _messages(runtime: Runtime, user_id: str) -> list[Any]:
    async with runtime.db.session() as session:
        store = ConversationStore(session, user_id)
        conversations = await store.recent(limit=50)
        found = []
        for conversation in conversations:
            found.extend(await store.messages(conversation.id))
        return found


async def test_a_full_worker_answers_503_to_a_turn_that_waited_the_queue_time(
    sqlite_url: str, running: Any
) -> None:
    """The running turn is held by the gate, so nothing frees a place: the other turn waits
    WORKER_QUEUE_SECONDS (real time, short) and no longer, however slow the machine."""
    model = GatedModel(replies=5)
    settings = limited(sqlite_url, worker_max_turns=1, worker_queue_seconds=0.3)
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        ada, bob = await sign_up(http, "ada@example.com"), await sign_up(http, "bob@example.com")
        first = asyncio.create_task(
            http.post(f"/api/{ada['id']}/chat", json={"message": "one"}, headers=ada["headers"])
        )
        while not (await _messages(runtime, ada["id"])):
            await asyncio.sleep(0.01)
        # Another person's turn finds the worker full: it waits, then gets a quick 503.
        busy = await http.post(
            f"/api/{bob['id']}/chat", json={"message": "two"}, headers=bob["headers"]
        )
        # No turn has ended yet, so there is no estimate: it waited the bound, then gave up.
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json() == {
            "detail": "TaskPilot is very busy right now; try again in a few seconds.",
            "code": "busy",
        }
        assert await _messages(runtime, bob["id"]) == []  # it never reached the database
        model.gate.set()
        assert (await first).status_code == 200


async def test_a_queued_turn_gets_in_when_the_running_one_ends(
    sqlite_url: str, running: Any
) -> None:
    """A queue time no machine's stall comes near: the queued turn gets the place the moment
    the running turn ends, not by outlasting a short bound."""
    model = GatedModel(replies=5)
    settings = limited(sqlite_url, worker_max_turns=1, worker_queue_seconds=60)
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        ada, bob = await sign_up(http, "ada@example.com"), await sign_up(http, "bob@example.com")
        first = asyncio.create_task(
            http.post(f"/api/{ada['id']}/chat", json={"message": "one"}, headers=ada["headers"])
        )
        while not (await _messages(runtime, ada["id"])):
            await asyncio.sleep(0.01)
        waiting_before = _waiting_for_worker()
        queued = asyncio.create_task(
            http.post(f"/api/{bob['id']}/chat", json={"message": "two"}, headers=bob["headers"])
        )
        while _waiting_for_worker() == waiting_before:  # it is in the queue, not yet in
            await asyncio.sleep(0.01)
        assert await _messages(runtime, bob["id"]) == []
        model.gate.set()
        assert (await first).status_code == 200
        assert (await queued).json()["response"] == "done"


def _waiting_for_worker() -> float:
    """Turns waiting for a place in a worker now (the `taskpilot_turns_waiting` gauge)."""
    value = prometheus_client.REGISTRY.get_sample_value(
        "taskpilot_turns_waiting", {"queue": "worker"}
    )
    return value or 0.0


async def test_the_in_process_limiter_stays_bounded_under_a_flood(sqlite_url: str) -> None:
    """20,000 sign-ins with random emails from one address: past the address's ceiling a
    refusal records nothing, so the worker keeps a handful of keys, not 20,000 (the flood
    grew a worker by ~20 MiB before). Bounded by construction, not by a memory reading."""
    limits = Limits(limited(sqlite_url, sign_in_attempts=10))
    refused = 0
    for _ in range(20_000):
        try:
            await limits.sign_in_attempt(f"{uuid.uuid4().hex}@example.com", "203.0.113.9")
        except RateLimited:
            refused += 1
    counters = limits._counters
    assert refused == 20_000 - 50  # the per-address ceiling: 5x SIGN_IN_ATTEMPTS
    assert len(counters.windows) == 51  # 50 email-at-address keys and the address's own


async def test_the_in_process_limiter_forgets_old_keys_and_caps_the_rest(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskpilot.core.limits import counters

    monkeypatch.setattr(counters, "MAX_MEMORY_KEYS", 100)
    settings, clock = limited(sqlite_url, sign_in_attempts=10), Clock()
    limits = Limits(settings, clock=clock)
    for n in range(1_000):  # from 1,000 networks: every attempt admitted, each a new key
        await limits.sign_in_attempt("ada@example.com", f"2001:db8:{n:x}::1")
    assert len(limits._counters.windows) <= 100
    clock.advance(settings.sign_in_window_seconds)
    await limits.sign_in_attempt("ada@example.com", "198.51.100.7")
    # Every earlier key's window has passed: only the newest attempt's two keys are left.
    assert len(limits._counters.windows) == 2


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=needs_redis)])
async def test_requests_that_are_not_turns_have_a_budget_too(
    sqlite_url: str, shared: bool, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings, history and ChatKit's reads count against a per-person budget (429 with
    Retry-After past it); another person's budget is their own."""
    from chatkit.types import ThreadListParams, ThreadsListReq

    overrides: dict[str, Any] = {"requests_per_minute": 3}
    if shared:
        overrides["reflex_redis_url"] = REDIS_URL
    runtime = await running(Runtime(limited(sqlite_url, **overrides), model=ScriptedModel([])))
    async with api_client(runtime) as http:
        ada, bob = await sign_up(http, "ada@example.com"), await sign_up(http, "bob@example.com")
        reads = [
            await http.get(f"/api/{ada['id']}/tasks", headers=ada["headers"]),
            await http.get(f"/api/{ada['id']}/conversations", headers=ada["headers"]),
        ]
        listed = await ChatKitClient(http, ada["headers"]).send(
            ThreadsListReq(params=ThreadListParams(limit=5))
        )
        assert [r.status_code for r in [*reads, listed]] == [200, 200, 200]
        over = await http.get(f"/api/{ada['id']}/tasks", headers=ada["headers"])
        assert (over.status_code, over.json()["code"]) == (429, "rate_limited")
        assert int(over.headers["Retry-After"]) > 0
        again = await ChatKitClient(http, ada["headers"]).send(
            ThreadsListReq(params=ThreadListParams(limit=5))
        )
        assert again.status_code == 429
        assert (
            await http.get(f"/api/{bob['id']}/tasks", headers=bob["headers"])
        ).status_code == 200
