"""Who may use `svdgan serve`'s page and API, checked on every request before any handler runs.

- Host allow-list: a request whose Host header names another machine is refused, so a web page
  whose name is rebound to 127.0.0.1 (DNS rebinding) cannot read the cameras.
- Same origin: a request that changes something (POST and the like) must come from the page
  itself (its Origin, or Sec-Fetch-Site: same-origin), never from another site or port.
- The token (from SVDGAN_TOKEN or --token-file, at least 16 bytes): API clients send it as
  `Authorization: Bearer T`; people log in once through a form that sets an HttpOnly,
  SameSite=Strict session cookie, so no URL ever carries it. Failed attempts are slowed down.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from svdgan.errors import UserError

MIN_TOKEN_BYTES = 16
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SESSION_COOKIE = "svdgan_session"
SESSION_SECONDS = 7 * 24 * 3600
FREE_FAILURES = 5  # wrong tokens from one client before it is slowed down
MAX_WAIT = 60.0  # seconds: the longest a client is made to wait between attempts
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def read_token(token_file: str | Path | None = None) -> str | None:
    """The token from `token_file` or else $SVDGAN_TOKEN (None: neither); too short is bad input."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise UserError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
        source = f"--token-file {token_file}"
    else:
        token = os.environ.get("SVDGAN_TOKEN", "").strip()
        source = "SVDGAN_TOKEN"
    if not token:
        if token_file is not None:
            raise UserError(f"{source} is empty")
        return None
    if len(token.encode()) < MIN_TOKEN_BYTES:
        raise UserError(f"{source}: the token must be at least {MIN_TOKEN_BYTES} bytes "
                        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    return token


def host_name(host_header: str) -> str:
    """'Example.org:8080' -> 'example.org'; '[::1]:8080' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(bind_host: str, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """Loopback names, the address bound (unless a wildcard) and what the config adds."""
    hosts = set(LOOPBACK_NAMES) | {h.lower() for h in extra}
    if bind_host not in ("0.0.0.0", "::", ""):  # a wildcard is no name a browser sends
        hosts.add(bind_host.strip("[]").lower())
    return frozenset(hosts)


@dataclass
class _Failures:
    count: int = 0
    next_try: float = 0.0


@dataclass
class Access:
    """The checks for one server. token None: no login (only allowed on loopback)."""

    token: str | None
    hosts: frozenset[str] = LOOPBACK_NAMES
    secure: bool = False  # served over TLS: the cookie is Secure too
    sessions: dict[str, float] = field(default_factory=dict)  # session id -> expiry (time.time())
    failures: dict[str, _Failures] = field(default_factory=dict)  # client address -> its failed attempts

    def host_allowed(self, host_header: str | None) -> bool:
        return host_header is not None and host_name(host_header) in self.hosts

    def same_origin(self, method: str, headers: dict[str, str], host_header: str | None, scheme: str) -> bool:
        """Whether a request may change state: only from the page itself. Requests without Origin or
        Sec-Fetch-Site come from no browser (curl, scripts), which carry no one else's cookie."""
        if method not in STATE_CHANGING:
            return True
        fetch_site = headers.get("sec-fetch-site")  # set by the browser itself; no page can forge it
        if fetch_site is not None:  # (with Referrer-Policy: no-referrer a form's Origin is "null")
            return fetch_site in ("same-origin", "none")
        origin = headers.get("origin")
        if origin is None:
            return True
        parts = urlsplit(origin)
        return origin != "null" and parts.scheme == scheme and parts.netloc.lower() == (host_header or "").lower()

    def authenticated(self, authorization: str | None, cookie: str | None) -> bool:
        if self.token is None:
            return True
        if authorization and authorization.lower().startswith("bearer "):
            return hmac.compare_digest(authorization[7:].encode(), self.token.encode())
        expiry = self.sessions.get(cookie or "")
        return expiry is not None and expiry > time.time()

    def wait(self, client: str) -> float:
        """Seconds the client must wait before its next attempt (0: it may try now)."""
        f = self.failures.get(client)
        return max(0.0, f.next_try - time.monotonic()) if f else 0.0

    def failed(self, client: str) -> None:
        f = self.failures.setdefault(client, _Failures())
        f.count += 1
        if f.count >= FREE_FAILURES:
            f.next_try = time.monotonic() + min(MAX_WAIT, 2.0 ** (f.count - FREE_FAILURES))
        if len(self.failures) > 10000:  # bounded: forget the oldest clients
            self.failures.pop(next(iter(self.failures)))

    def login(self, client: str, given: str) -> str | None:
        """A new session id for the right token, else None (and the failure counted)."""
        if self.token is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            self.failures.pop(client, None)
            now = time.time()
            self.sessions = {s: e for s, e in self.sessions.items() if e > now}
            session = secrets.token_urlsafe(32)
            self.sessions[session] = now + SESSION_SECONDS
            return session
        self.failed(client)
        return None

    def logout(self, session: str | None) -> None:
        self.sessions.pop(session or "", None)
