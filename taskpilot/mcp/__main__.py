"""Run TaskPilot's MCP server on its own.

python -m taskpilot.mcp stdio --token "$TASKPILOT_TOKEN"
    One user's tasks over stdio, for an IDE or desktop assistant. The token is a login
    token from POST /api/auth/login; it is verified once at start-up.

python -m taskpilot.mcp http --host 127.0.0.1 --port 8765
    Streamable HTTP at /mcp; every request carries its own bearer token.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from taskpilot.core.config import get_settings
from taskpilot.core.db import Database
from taskpilot.core.live import live_feed
from taskpilot.core.security import API_AUDIENCE, MCP_AUDIENCE, InvalidToken, verify_taskpilot_token
from taskpilot.data.models import User
from taskpilot.mcp.server import bind_stdio_user, build_mcp_app, build_mcp_server


async def _serve_stdio(token: str) -> int:
    settings = get_settings()
    try:
        identity = verify_taskpilot_token(settings, token, (API_AUDIENCE, MCP_AUDIENCE))
    except InvalidToken as exc:
        print(f"taskpilot-mcp: {exc}", file=sys.stderr)
        return 2
    db = Database(settings)
    live = live_feed(settings)  # with Redis, the person's open pages hear of the changes
    try:
        async with db.session() as session:
            if await session.get(User, identity.user_id) is None:
                print("taskpilot-mcp: that account no longer exists.", file=sys.stderr)
                return 2
        bind_stdio_user(identity.user_id)
        await build_mcp_server(settings, db, live).run_stdio_async()
    finally:
        await live.flush()
        await live.close()
        await db.dispose()
    return 0


def _serve_http(host: str, port: int) -> int:
    import uvicorn

    settings = get_settings()
    db = Database(settings)
    server = build_mcp_server(settings, db, live_feed(settings))
    uvicorn.run(build_mcp_app(server, settings), host=host, port=port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m taskpilot.mcp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    stdio = commands.add_parser("stdio", help="serve one user's tasks over stdio")
    stdio.add_argument(
        "--token",
        default=os.environ.get("TASKPILOT_TOKEN"),
        help="login token (default: $TASKPILOT_TOKEN)",
    )
    http = commands.add_parser("http", help="serve streamable HTTP at /mcp")
    http.add_argument("--host", default="127.0.0.1")
    http.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    if args.command == "stdio":
        if not args.token:
            parser.error("give --token or set TASKPILOT_TOKEN (a token from /api/auth/login)")
        return asyncio.run(_serve_stdio(args.token))
    return _serve_http(args.host, args.port)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
