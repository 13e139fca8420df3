"""`reflex run`, with Granian told to replace a worker that dies.

Reflex 0.10 builds Granian's server itself and does not ask it to respawn failed workers, so a
worker that crashed (or was killed) made the supervisor stop the machine's other workers too.
`python -m taskpilot.serve` runs Reflex's command line through this module instead of the
`reflex` script: the only difference is Granian's `respawn_failed_workers`, on.
"""

from __future__ import annotations

import sys
from typing import Any

# How soon a dead worker is replaced (Granian's default is 3.5 s).
RESPAWN_INTERVAL_SECONDS = 1.0


def respawning_workers() -> None:
    """Make every Granian server this process builds replace its failed workers."""
    import granian.server

    base = granian.server.Server

    class RespawningServer(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            kwargs.setdefault("respawn_interval", RESPAWN_INTERVAL_SECONDS)
            super().__init__(*args, **kwargs)

    granian.server.Server = RespawningServer  # type: ignore[misc]


def main() -> None:  # pragma: no cover - runs as the production server's process
    """`reflex` with the arguments given, workers respawning."""
    respawning_workers()
    from reflex.reflex import cli

    sys.argv[0] = "reflex"
    sys.exit(cli())


if __name__ == "__main__":  # pragma: no cover
    main()
