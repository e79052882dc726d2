"""Passwords (argon2), signed session cookies, CSRF tokens, roles and the login throttle.

The session cookie carries a random session id signed with the app's secret key; the database
keeps only the id's hash (``review_sessions``), so logging out or disabling a user ends the
session at once. The CSRF token of a form is an HMAC of the session id: nothing to store, and a
token from one session is useless in another. Before login, the same is done with a short-lived
signed nonce cookie, so the login form is CSRF-protected too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

MIN_PASSWORD_CHARS = 10
SESSION_COOKIE = "callqa_session"
LOGIN_COOKIE = "callqa_login"
SECRET_ENV = "CALLQA_SECRET_KEY"
PASSWORD_ENV = "CALLQA_PASSWORD"
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")  # what a user name may be


@dataclass(frozen=True)
class LoginPolicy:
    """How long a login lasts, and how failed logins slow further tries (never a lockout).

    Failures are counted per (name, address); from an address the name has never logged in from,
    also per name (many addresses guessing one name) and per address (one address guessing many
    names). Past its free failures each count doubles the wait before the next try, from
    ``first_delay_s`` up to ``max_delay_s``; a count is forgotten after ``forget_after_s`` quiet.
    Failures from elsewhere never slow a name at an address it has logged in from before.
    """

    session_ttl_s: float = 12 * 3600.0
    login_form_ttl_s: float = 3600.0
    free_failures: int = 3  # per name at one address: typos
    free_failures_per_name: int = 10  # per name over unfamiliar addresses
    free_failures_per_address: int = 20  # per address over names: room for a shared NAT
    first_delay_s: float = 2.0
    max_delay_s: float = 15 * 60.0
    forget_after_s: float = 3600.0  # longer than max_delay_s, so waiting it out forgets nothing

    def free_for(self, scope: str) -> int:
        return {
            "pair": self.free_failures,
            "name": self.free_failures_per_name,
            "address": self.free_failures_per_address,
        }[scope]


def login_delay_s(failures: int, free: int, policy: LoginPolicy) -> float:
    """How long after the last failure the next try must wait: 0 up to ``free`` failures, then
    ``first_delay_s`` doubling with each further failure, at most ``max_delay_s``."""
    if failures <= free:
        return 0.0
    return min(policy.max_delay_s, policy.first_delay_s * 2.0 ** (failures - free - 1))


def login_wait_s(counts: dict[str, tuple[int, float]], policy: LoginPolicy) -> float:
    """Seconds still to wait, from the counts that apply: scope -> (failures, seconds since the
    last failure). Counts older than ``forget_after_s`` are forgotten."""
    wait = 0.0
    for scope, (failures, since_s) in counts.items():
        if since_s >= policy.forget_after_s:
            continue
        wait = max(wait, login_delay_s(failures, policy.free_for(scope), policy) - since_s)
    return wait


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password_rules(password: str) -> None:
    """Raise ``ValueError`` for a password too weak to accept."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if password.strip() != password:
        raise ValueError("password must not start or end with spaces")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; an unknown user costs the same time as a wrong password."""
    try:
        return (
            _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class Signer:
    """Signs and checks the session and login-form cookies, and derives CSRF tokens."""

    def __init__(self, secret_key: str):
        if len(secret_key) < 32:
            raise ValueError("the secret key must have at least 32 characters")
        self._secret = secret_key.encode()
        self._sessions = URLSafeTimedSerializer(secret_key, salt="callqa-session")
        self._login = URLSafeTimedSerializer(secret_key, salt="callqa-login-form")

    def session_cookie(self, session_id: str) -> str:
        return self._sessions.dumps(session_id)

    def session_id(self, cookie: str | None, max_age_s: float) -> str | None:
        if not cookie:
            return None
        try:
            value = self._sessions.loads(cookie, max_age=max_age_s)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def login_cookie(self, nonce: str) -> str:
        return self._login.dumps(nonce)

    def login_nonce(self, cookie: str | None, max_age_s: float) -> str | None:
        if not cookie:
            return None
        try:
            value = self._login.loads(cookie, max_age=max_age_s)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def csrf_token(self, session_id: str) -> str:
        return hmac.new(self._secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session_id: str | None, token: str | None) -> bool:
        if not session_id or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session_id), token)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def load_or_create_secret(db_path: str | Path) -> str:
    """The key that signs cookies: ``CALLQA_SECRET_KEY``, else ``<db>.secret`` (created once, mode 0600)."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env
    path = Path(str(db_path) + ".secret")
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key
