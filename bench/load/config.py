"""What a load run measures: `LoadConfig`, and where progress goes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.model_double import DEFAULT_CALL_MS, DEFAULT_REPLY_CHUNKS

ROOT = Path(__file__).resolve().parents[2]


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench.load] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LoadConfig:
    """What to run. `quick_smoke()` is the CI size, `full()` the reported one."""

    levels: tuple[int, ...]
    turns: tuple[int, ...]  # turns per conversation, per level
    think_s: float
    ramp_s: float
    workers: int
    client: str
    call_ms: float
    reply_chunks: int
    warmup: int
    turn_timeout_s: float
    quick: bool
    budget_s: float = 90.0  # no new turn starts this long after a level began
    baseline_turns: int = 10
    extra_env: tuple[tuple[str, str], ...] = ()
    py_spy: str | None = None  # profile the workers in an extra level with this py-spy
    profile_conversations: int = 50
    profile_seconds: float = 15.0
    tree: Path = ROOT  # the checkout the workers run from (another one to measure a change)
    keep_log: Path | None = None  # copy the workers' log here at the end

    @classmethod
    def full(cls, **overrides: Any) -> LoadConfig:
        """The reported run: 50, 200, 500 conversations."""
        values: dict[str, Any] = {
            "levels": (50, 200, 500),
            "turns": (6, 4, 3),
            "think_s": 0.0,
            "ramp_s": 2.0,
            "workers": 2,
            "client": "raw",
            "call_ms": DEFAULT_CALL_MS,
            "reply_chunks": DEFAULT_REPLY_CHUNKS,
            "warmup": 20,
            "turn_timeout_s": 120.0,
            "budget_s": 90.0,
            "quick": False,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def quick_smoke(cls, **overrides: Any) -> LoadConfig:
        """The CI form: 20 and 50 conversations, 3 turns each."""
        values: dict[str, Any] = {
            "levels": (20, 50),
            "turns": (3, 3),
            "warmup": 6,
            "baseline_turns": 4,
            "budget_s": 30.0,
            "turn_timeout_s": 60.0,
            "profile_conversations": 20,
            "profile_seconds": 8.0,
        }
        values.update(overrides)
        return cls.full(quick=True, **values)
