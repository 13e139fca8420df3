"""Better Auth's side of a sign-in, on loopback: its signing keys, and a JWKS endpoint that can
rotate them, hold its answers, fail, and count the fetches it receives."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

AUDIENCE = "taskpilot"
BETTER_AUTH = "https://app.example"
# The longest a held answer waits for the test to release it: a safety net, never a measure.
HOLD_LIMIT_SECONDS = 10


class Signer:
    """One of Better Auth's signing keys: its key id, algorithm and private key."""

    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid, self.algorithm = kid, algorithm
        self.private: Any = {
            "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
            "EdDSA": ed25519.Ed25519PrivateKey.generate,
        }[algorithm]()

    def jwk(self) -> dict[str, Any]:
        """The public key as the JWKS serves it."""
        public = get_default_algorithms()[self.algorithm].to_jwk(
            self.private.public_key(), as_dict=True
        )
        return {**public, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def token(self, sub: str = "ba_user", **changes: Any) -> str:
        """A token as Better Auth issues it for TaskPilot; a change to None drops that claim."""
        now = int(time.time())
        claims = {
            "sub": sub,
            "email": f"{sub}@example.com",
            "aud": AUDIENCE,
            "iss": BETTER_AUTH,
            "iat": now,
            "exp": now + 600,
            **changes,
        }
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid})

    def bearer(self, **changes: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**changes)}"}


class JwksServer:
    """Better Auth's JWKS endpoint on 127.0.0.1: serves the keys it is given, counts the fetches
    it receives and answers, and can hold its answers until released, or fail."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.status = 200
        self.fetches = 0
        self.answered = 0
        self.fetch_arrived = threading.Event()
        self._held = False
        self._release = threading.Event()
        self._lock = threading.Lock()
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with jwks._lock:
                    jwks.fetches += 1
                    keys, status, held = list(jwks.keys), jwks.status, jwks._held
                jwks.fetch_arrived.set()
                if held:
                    jwks._release.wait(HOLD_LIMIT_SECONDS)
                body = json.dumps({"keys": keys}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # TaskPilot stopped waiting (its timeout)
                with jwks._lock:
                    jwks.answered += 1

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/api/auth/jwks"

    def publish(self, *signers: Signer) -> None:
        """Serve exactly these keys from now on."""
        with self._lock:
            self.keys = [signer.jwk() for signer in signers]

    def hold(self) -> None:
        """Hold every answer until `release()`: a JWKS as slow as the test wants."""
        self._release.clear()
        self._held = True

    def release(self) -> None:
        self._held = False
        self._release.set()

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
