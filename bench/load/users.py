"""The simulated users: accounts signed up before anything is timed, and conversations of
turns in a row, each message tagged with a token the model double records its calls under."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from typing import Any

import httpx

from bench.load.clients import Account, Client, TurnSample
from bench.model_double import tagged

PASSWORD = "correct horse battery staple"  # noqa: S105 - throwaway bench accounts
TITLES = (
    "buy milk",
    "call the dentist about the checkup",
    "renew the passport",
    "book flights to Lisbon",
    "send the March invoice",
    "water the plants",
    "fix the bike's back light",
    "prepare slides for Monday",
)


async def sign_up(base_url: str, count: int) -> tuple[list[Account], float]:
    """`count` accounts through POST /api/auth/signup, 8 at a time; (accounts, seconds)."""
    clock = time.monotonic()
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:

        async def one(index: int) -> Account:
            async with gate:
                response = await http.post(
                    "/api/auth/signup",
                    json={"email": f"load-{run}-{index}@example.com", "password": PASSWORD},
                )
            if response.status_code != 201:
                raise RuntimeError(f"signup answered {response.status_code}: {response.text}")
            account = response.json()
            return Account(index, account["user"]["id"], account["access_token"])

        accounts = await asyncio.gather(*(one(index) for index in range(count)))
    return list(accounts), time.monotonic() - clock


def message_for(user: int, index: int) -> tuple[str, str]:
    """The user's `index`-th message and the tool the double will call for it: adds and
    "what is still open?" alternate, so the task list grows and is read back."""
    if index % 2 == 0:
        title = TITLES[(user + index // 2) % len(TITLES)]
        return f"add {title}", "add_task"
    return "what is still open?", "list_tasks"


async def conversation(
    client: Client,
    account: Account,
    level: int,
    turns: int,
    delay_s: float,
    think_s: float,
    samples: list[TurnSample],
    deadline: float = math.inf,
) -> None:
    """One simulated user: a new conversation of `turns` turns in a row, none started after
    `deadline` (time.monotonic())."""
    await asyncio.sleep(delay_s)
    conversation_id: str | None = None
    for index in range(turns):
        if time.monotonic() > deadline:
            return
        text, tool = message_for(account.index, index)
        token = f"{level}.{account.index}.{index}"
        sample = TurnSample(token, level, account.index, index, tool)
        body: dict[str, Any] = {"message": tagged(text, token)}
        if conversation_id:
            body["conversation_id"] = conversation_id
        await client.turn(account, body, sample)
        samples.append(sample)
        conversation_id = conversation_id or sample.conversation_id
        if think_s > 0 and index < turns - 1:
            await asyncio.sleep(random.uniform(0.5, 1.5) * think_s)
