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
    """How long a login lasts and how many failed logins a name or client gets before a pause."""

    session_ttl_s: float = 12 * 3600.0
    max_failures: int = 5  # per user name
    max_failures_per_client: int = 20  # per address: password spraying, but room for a shared NAT
    window_s: float = 15 * 60.0
    login_form_ttl_s: float = 3600.0


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
