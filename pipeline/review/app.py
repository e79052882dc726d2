"""The supervisor review app: queue, call page (redacted audio, timeline, transcript, rubric, grading),
audit log and user admin. Server-rendered Jinja2 pages with a little plain JavaScript.

Every route but the login page and the static files needs a session; every form post needs the
session's CSRF token; supervisors only ever see calls of their teams (a call of another team is
a 404, exactly like a call that does not exist). The database is opened per request and closed
again (see ``pipeline/store/review_store.py``), so the nightly run can write in between.

This module is the plumbing every page shares (options, sessions, CSRF, templates, errors, the
navigation bar); the pages live in their own modules (``PAGE_MODULES``), each an ``APIRouter``
named ``router`` plus an optional ``NAV`` of links for the bar. A new page module is added to
``PAGE_MODULES`` (or passed to ``create_app``) without touching the others; its templates extend
``base.html``.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

import duckdb
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import MutableHeaders

from pipeline.review.auth import SESSION_COOKIE, LoginPolicy, Signer
from pipeline.store.review_store import (
    Forbidden,
    NotFound,
    ReviewConflict,
    ReviewStore,
    User,
)
from pipeline.store.store import LOCK_RETRY_S

HERE = Path(__file__).parent
# The pages, in the order their routes are matched; each module has ``router`` and maybe ``NAV``.
PAGE_MODULES = (
    "pipeline.review.login_pages",
    "pipeline.review.queue_pages",
    "pipeline.review.call_pages",
    "pipeline.review.admin_pages",
)
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
        "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


@dataclass(frozen=True)
class AppOptions:
    """How one review app instance runs."""

    db_path: str
    secret_key: str
    cookie_secure: bool = False  # set behind HTTPS (a TLS-terminating proxy)
    login: LoginPolicy = field(default_factory=LoginPolicy)
    page_size: int = 50
    lock_timeout_s: float = LOCK_RETRY_S  # how long a request waits while the nightly run writes


@dataclass(frozen=True)
class NavLink:
    """One entry of the navigation bar; ``roles`` empty means every logged-in user."""

    label: str
    path: str
    roles: tuple[str, ...] = ()
    order: int = 50  # left to right

    def shown_to(self, user: User) -> bool:
        return not self.roles or user.role in self.roles


class LoginRequired(Exception):
    pass


class CsrfFailed(Exception):
    pass


class BadInput(Exception):
    pass


class _SecurityHeaders:
    """Adds the security headers to every response; pages are never cached, static files briefly."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers["cache-control"] = "private, max-age=300" if static else "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def clock(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    minutes, rest = divmod(max(0.0, float(seconds)), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@lru_cache(maxsize=4096)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    """Hash once per version of a file (the modification time and size are part of the key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme), for the post-login redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return request.method == "GET" and not path.startswith("/api/") and not path.endswith("/audio")


def review_of(request: Request) -> ReviewApp:
    """The ``ReviewApp`` behind a request (page modules reach the store and templates through it)."""
    return request.app.state.review


class ReviewApp:
    """Holds the options, the store and the templates; ``build()`` returns the FastAPI app."""

    def __init__(self, options: AppOptions, pages: tuple[str | ModuleType, ...] = PAGE_MODULES):
        self.options = options
        self.pages = pages
        self.store = ReviewStore(options.db_path, options.lock_timeout_s)
        self.signer = Signer(options.secret_key)
        self.nav: list[NavLink] = []
        self.routers: list[APIRouter] = []
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        env.filters.update(clock=clock, when=_when, num=_num)
        self.templates = Jinja2Templates(env=env)

    # --- plumbing ------------------------------------------------------------------------------

    def authenticate(self, request: Request, db) -> tuple[User, str]:
        session_id = self.signer.session_id(
            request.cookies.get(SESSION_COOKIE), self.options.login.session_ttl_s
        )
        user = db.session_user(session_id) if session_id else None
        if user is None:
            raise LoginRequired()
        request.state.user = user
        request.state.csrf = self.signer.csrf_token(session_id)
        return user, session_id

    def check_csrf(self, request: Request, session_id: str, form) -> None:
        token = form.get("csrf_token") or request.headers.get("x-csrf-token")
        if not self.signer.csrf_ok(session_id, token):
            raise CsrfFailed()

    def render(
        self, request: Request, template: str, context: dict, status_code: int = 200
    ) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        base = {
            "user": user,
            "csrf": getattr(request.state, "csrf", ""),
            "path": request.url.path,
            "nav": [link for link in self.nav if user and link.shown_to(user)],
        }
        return self.templates.TemplateResponse(
            request, template, base | context, status_code=status_code
        )

    def require_role(self, user: User, *roles: str) -> None:
        if user.role not in roles:
            raise Forbidden(f"this page needs the role {' or '.join(roles)}")

    def redacted_audio_ok(self, path: str, expected_sha256: str | None) -> bool:
        """The file on disk is the redacted copy the pipeline wrote (its hash matches)."""
        if not expected_sha256:
            return False
        try:
            stat = Path(path).stat()
        except OSError:
            return False
        return _file_sha256(path, stat.st_mtime_ns, stat.st_size) == expected_sha256

    # --- the app -------------------------------------------------------------------------------

    def build(self) -> FastAPI:
        app = FastAPI(title="callqa review", docs_url=None, redoc_url=None, openapi_url=None)
        app.state.review = self
        app.add_middleware(_SecurityHeaders)
        app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
        self._error_handlers(app)
        for page in self.pages:
            module = importlib.import_module(page) if isinstance(page, str) else page
            app.include_router(module.router)
            self.routers.append(module.router)
            self.nav.extend(getattr(module, "NAV", ()))
        self.nav.sort(key=lambda link: link.order)
        return app

    def page_routes(self) -> list[APIRoute]:
        """Every route of every page module (for checks that walk them all)."""
        return [r for router in self.routers for r in router.routes if isinstance(r, APIRoute)]

    def error_page(self, request: Request, status: int, message: str) -> Response:
        path = request.url.path
        if (
            path.startswith("/api/")
            or path.endswith("/audio")
            or "text/html" not in request.headers.get("accept", "")
        ):
            return JSONResponse({"detail": message}, status_code=status)
        return self.render(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    def _error_handlers(self, app: FastAPI) -> None:
        @app.exception_handler(LoginRequired)
        async def login_required(request: Request, exc: LoginRequired):
            if _wants_html(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
            return JSONResponse({"detail": "login required"}, status_code=401)

        @app.exception_handler(NotFound)
        async def not_found(request: Request, exc: NotFound):
            return self.error_page(request, 404, "No such call (or not one of your teams' calls).")

        @app.exception_handler(Forbidden)
        async def forbidden(request: Request, exc: Forbidden):
            return self.error_page(request, 403, str(exc) or "Not allowed.")

        @app.exception_handler(CsrfFailed)
        async def csrf_failed(request: Request, exc: CsrfFailed):
            return self.error_page(
                request,
                403,
                "The form was stale or not sent by this site: reload the page and try again.",
            )

        @app.exception_handler(ReviewConflict)
        async def conflict(request: Request, exc: ReviewConflict):
            return self.error_page(request, 409, str(exc))

        @app.exception_handler(duckdb.IOException)
        async def database_busy(request: Request, exc: duckdb.IOException):
            if "lock" not in str(exc).lower():
                return self.error_page(request, 500, "The database could not be read.")
            response = self.error_page(
                request,
                503,
                "The database is busy (the nightly run is writing): try again in a moment.",
            )
            response.headers["retry-after"] = "5"
            return response

        @app.exception_handler(BadInput)
        async def bad_input(request: Request, exc: BadInput):
            return self.error_page(request, 400, str(exc))


def create_app(options: AppOptions, pages: tuple[str | ModuleType, ...] = PAGE_MODULES) -> FastAPI:
    """The review app for one database (the schema is created or updated first)."""
    review_app = ReviewApp(options, pages)
    review_app.store.ensure_schema()
    return review_app.build()


def serve(options: AppOptions, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(
        create_app(options),
        host=host,
        port=port,
        server_header=False,
        proxy_headers=False,
        log_level="info",
    )
