"""The pages' content-security policy: scripts only from the app itself and ChatKit's CDN.

The compiled pages carry a few inline scripts of React Router's and Reflex's (the theme before
first paint, the router's context, streamed markup); they are allowed by their SHA-256, read
from the production build once, so a script injected into a page runs nowhere. `'unsafe-eval'`
stays: Reflex runs the server's own `rx.call_script` events through `eval` (the page uses three:
focus in the drawer, reload, the URL of a ChatKit thread). Dev mode's pages come from Vite's
server, not through here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from taskpilot.core.config import PROJECT_ROOT

BUILD = PROJECT_ROOT / ".web" / "build" / "client"
# An inline script: <script ...>code</script> with no src attribute.
_INLINE = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_REST = b"frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"


def inline_script_hashes(build: Path = BUILD) -> list[str]:
    """CSP hash sources for every inline script of the built pages."""
    found: set[str] = set()
    for page in sorted(build.rglob("*.html")) if build.is_dir() else []:
        for code in _INLINE.findall(page.read_bytes()):
            if code.strip():
                digest = base64.b64encode(hashlib.sha256(code).digest()).decode()
                found.add(f"'sha256-{digest}'")
    return sorted(found)


def page_csp(chatkit_script_url: str, build: Path = BUILD) -> bytes:
    """The policy for pages: scripts from this origin, ChatKit's, and the build's own."""
    parts = urlsplit(chatkit_script_url)
    chatkit = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    sources = ["'self'", "'unsafe-eval'", chatkit, *inline_script_hashes(build)]
    script_src = " ".join(source for source in sources if source)
    return f"script-src {script_src}; ".encode() + _REST
