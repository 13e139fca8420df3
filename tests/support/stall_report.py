"""Say where the suite was when it is terminated (a pytest plugin, loaded by tests/conftest.py).

CI runs the tests under `timeout`, which ends them with SIGTERM. Without this, the log stops in
a row of dots: it shows neither the test that was running nor where the time went. On SIGTERM
this writes the running test and how long it had run, then interrupts pytest as Ctrl+C does, so
the summary and the slowest durations so far are printed before the process ends.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

import pytest


class StallReport:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.running: tuple[str, float] | None = None
        self.finished = 0

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = (nodeid, time.monotonic())

    def pytest_runtest_logfinish(self) -> None:
        self.running = None
        self.finished += 1

    def terminated(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        where = "between tests"
        if self.running is not None:
            nodeid, since = self.running
            where = f"in {nodeid}, {now - since:.0f} s into it"
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        line = (
            f"SIGTERM after {now - self.started:.0f} s and {self.finished} tests, {where}; "
            "stopping as for Ctrl+C"
        )
        if reporter is not None:
            reporter.write_line("")
            reporter.write_line(line, red=True, bold=True)
        raise KeyboardInterrupt(line)


def pytest_configure(config: pytest.Config) -> None:
    report = StallReport(config)
    config.pluginmanager.register(report, "stall_report")
    signal.signal(signal.SIGTERM, report.terminated)
