"""What a load run measured: per level (`LevelResult`) and for the whole run (`LoadResults`).
Each successful turn's overhead is its time minus the model double's own time for that
turn's calls, matched by the token its message carried."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.load.clients import TurnSample
from bench.load.config import LoadConfig
from bench.load.worker_profile import WorkerProfile

# The overhead's three phases, placed by the double's timestamps on the shared clock.
BEFORE = "before the first model call"
BETWEEN = "between the two calls"
AFTER = "after the reply's last chunk"


@dataclass
class LevelResult:
    """Everything measured at one concurrency level."""

    conversations: int
    turns_each: int
    seconds: float
    samples: list[TurnSample]
    double_calls: list[dict[str, Any]]
    cores: dict[str, float]
    peak_rss: dict[int, float]
    rss_before: dict[int, float]
    lag_ms: list[float]
    probe_ms: list[float]
    probe_errors: int
    client_cpu_s: float
    overhead: list[float] = field(default_factory=list)
    first_delta_overhead: list[float] = field(default_factory=list)
    double_ms: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    database: dict[str, int] = field(default_factory=dict)  # pg_stat_database deltas
    connections: dict[str, float] = field(default_factory=dict)
    log_signatures: dict[str, int] = field(default_factory=dict)
    planned: int = 0
    settle_s: float = 0.0
    profile: WorkerProfile | None = None
    unmatched: int = 0
    model_retries: int = 0

    @property
    def ok(self) -> list[TurnSample]:
        return [s for s in self.samples if s.error is None]

    @property
    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.samples if s.error is not None)

    @property
    def turns_per_s(self) -> float:
        return len(self.ok) / self.seconds if self.seconds > 0 else math.nan

    def cpu_ms_per_turn(self, *groups: str) -> float:
        """CPU ms the named process groups (`cores` keys) spent per successful turn."""
        if not self.turns_per_s or math.isnan(self.turns_per_s):
            return math.nan
        return sum(self.cores.get(name, 0.0) for name in groups) * 1000 / self.turns_per_s

    def match(self) -> None:
        """Subtract the double's own time from each successful turn (matched by token)."""
        by_token: dict[str, list[dict[str, Any]]] = {}
        for call in self.double_calls:
            by_token.setdefault(call["token"], []).append(call)
        for sample in self.ok:
            calls = by_token.get(sample.token, [])
            tool = [c for c in calls if c["kind"] == "tool"]
            reply = [c for c in calls if c["kind"] == "reply"]
            if len(calls) > 2:
                self.model_retries += 1
            if not tool or not reply:
                self.unmatched += 1
                continue
            double = sum(c["duration_ms"] for c in calls)
            self.double_ms.append(double)
            self.overhead.append(sample.total_ms - double)
            ahead = sum(c["duration_ms"] for c in tool) + reply[-1]["first_chunk_ms"]
            self.first_delta_overhead.append(sample.first_delta_ms - ahead)
            if sample.sent_ns and "started_ns" in tool[0]:
                ended = sample.sent_ns + sample.total_ms * 1e6
                for name, value in (
                    (BEFORE, tool[0]["started_ns"] - sample.sent_ns),
                    (BETWEEN, reply[-1]["started_ns"] - tool[-1]["ended_ns"]),
                    (AFTER, ended - reply[-1]["ended_ns"]),
                ):
                    self.phases.setdefault(name, []).append(value / 1e6)


def overhead_of(samples: list[TurnSample], calls: list[dict[str, Any]]) -> list[float]:
    """Turn time minus the double's time for that turn's calls, per matched turn."""
    level = LevelResult(0, 0, 0.0, samples, calls, {}, {}, {}, [], [], 0, 0.0)
    level.match()
    return level.overhead


@dataclass
class LoadResults:
    """One load run."""

    config: LoadConfig
    started: datetime
    environment: dict[str, str]
    client_name: str
    settings: dict[str, str]
    postgres_version: str = ""
    start_s: float = 0.0
    signup_s: float = 0.0
    accounts: int = 0
    idle_rss: dict[int, float] = field(default_factory=dict)
    baseline: LevelResult | None = None
    levels: list[LevelResult] = field(default_factory=list)
    profiled: LevelResult | None = None
    profile_skipped: str | None = None
    log_lines: int = 0
    log_warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def all_levels(self) -> list[tuple[str, LevelResult]]:
        """(label, level) for the baseline and every measured level."""
        rows = [] if self.baseline is None else [("1 (alone)", self.baseline)]
        return rows + [(str(level.conversations), level) for level in self.levels]
