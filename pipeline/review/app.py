"""The supervisor review app: queue, call page (redacted audio, timeline, transcript, rubric, grading),
audit log and user admin. Server-rendered Jinja2 pages with a little plain JavaScript.

Every route but the login page and the static files needs a session; every form post needs the
session's CSRF token; supervisors only ever see calls of their teams (a call of another team is
a 404, exactly like a call that does not exist). The database stays open between requests for a
while (``AppOptions.keep_open_s``) and is closed whenever another process asks for it (see
``pipeline/store/review_store.py``), so the nightly run can write in between.

This module is the plumbing every page shares (options, sessions, CSRF, templates, errors, the
navigation bar); the pages live in their own modules (``PAGE_MODULES``), each an ``APIRouter``
named ``router`` plus an optional ``NAV`` of links for the bar. A new page module is added to
``PAGE_MODULES`` (or passed to ``create_app``) without touching the others; its templates extend
``base.html``.
"""

from __future__ import annotations

import importlib
import math
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode, urlsplit

import duckdb
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders

from pipeline.digest import file_sha256
from pipeline.review.auth import SESSION_COOKIE, LoginPolicy, Signer
from pipeline.review.coaching import agent_may_open, coaching_router
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
    # How long the database stays open after the last request: opening it costs more than a queue
    # page's queries. Another process of this project waiting for the file (the nightly run,
    # `callqa queue`) gets it within a fraction of a second all the same; tools that do not wait
    # their turn (a plain `duckdb` shell) find it locked for up to this long. 0: closed after each.
    keep_open_s: float = 30.0
    # Request bodies: a grading form with every comment at its limit is far below this.
    max_body_bytes: int = 2 * 1024 * 1024
    max_login_body_bytes: int = 16 * 1024


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


class BodyTooLarge(Exception):
    def __init__(self, limit_bytes: int):
        super().__init__(limit_bytes)
        self.limit_bytes = limit_bytes


# Requests that may carry a body without a session (the login form itself).
ANONYMOUS_POSTS = frozenset({"/login"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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


class _BodyGuard:
    """No byte of a request body is read before the session is known, and never more than a cap.

    A request with a body but without a validly signed session cookie is answered at once, body
    unread (the login form excepted); a declared ``Content-Length`` over the cap is answered 413
    unread; a body sent without a length is cut at the cap (``BodyTooLarge``). The routes then
    check the session in the database before they read the body (``ReviewApp.form_post``).
    """

    def __init__(self, app, review: ReviewApp):
        self.app = app
        self.review = review

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        options = self.review.options
        anonymous = scope["path"] in ANONYMOUS_POSTS
        limit = options.max_login_body_bytes if anonymous else options.max_body_bytes
        if not anonymous and not self.review.signed_session_id(request):
            await self.review.login_required_response(request)(scope, receive, send)
            return
        try:
            declared = int(request.headers.get("content-length", "0"))
        except ValueError:
            declared = 0
        if declared > limit:
            await self.review.too_large_response(request, limit)(scope, receive, send)
            return
        received = 0

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, capped_receive, send)


def clock(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    minutes, rest = divmod(max(0.0, float(seconds)), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def highlight(text: str, query: str) -> Markup:
    """``text`` escaped, with every case-insensitive occurrence of ``query`` in ``<mark>``."""
    if not query:
        return escape(text)
    parts, position = [], 0
    for match in re.finditer(re.escape(query), text, flags=re.IGNORECASE):
        parts += [escape(text[position : match.start()]), Markup("<mark>"), escape(match.group())]
        parts.append(Markup("</mark>"))
        position = match.end()
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@lru_cache(maxsize=4096)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    """Hash once per version of a file (the modification time and size are part of the key)."""
    return file_sha256(Path(path))


def audio_candidates(stored_path: str, db_path: str) -> list[Path]:
    """Where a stored redacted-audio path may point, most likely first."""
    path = Path(stored_path)
    if path.is_absolute():
        return [path]
    db = Path(db_path).resolve()
    return [db.parent / path, db.with_name(db.name + ".redacted") / path.name, Path.cwd() / path]


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
        self.store = ReviewStore(options.db_path, options.lock_timeout_s, options.keep_open_s)
        self.signer = Signer(options.secret_key)
        self.nav: list[NavLink] = []
        self.routers: list[APIRouter] = []
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        env.filters.update(clock=clock, when=_when, num=_num, highlight=highlight)
        self.templates = Jinja2Templates(env=env)

    # --- plumbing ------------------------------------------------------------------------------

    def signed_session_id(self, request: Request) -> str | None:
        """The session id in the cookie when its signature holds (not yet checked in the database)."""
        return self.signer.session_id(
            request.cookies.get(SESSION_COOKIE), self.options.login.session_ttl_s
        )

    def authenticate(self, request: Request, db) -> tuple[User, str]:
        session_id = self.signed_session_id(request)
        user = db.session_user(session_id) if session_id else None
        if user is None:
            raise LoginRequired()
        if user.role == "agent" and not agent_may_open(request.url.path):
            raise NotFound(request.url.path)  # an agent sees only their own reviewed calls (/my)
        request.state.user = user
        request.state.csrf = self.signer.csrf_token(session_id)
        return user, session_id

    def session(self, request: Request) -> tuple[User, str]:
        """The logged-in user and session id (the database opened just for this)."""
        with self.store.open() as db:
            return self.authenticate(request, db)

    async def form_post(self, request: Request, *roles: str) -> tuple[User, str, FormData]:
        """A form post in the safe order: the session (in the database) and the role, then the
        body, capped by ``_BodyGuard``, then the CSRF token. ``LoginRequired`` (or ``Forbidden``)
        before any byte of the body is read."""
        user, session_id = await run_in_threadpool(self.session, request)
        if roles:
            self.require_role(user, *roles)
        # one field may be as large as the whole body: _BodyGuard's cap answers first, with a page
        form = await request.form(max_part_size=self.options.max_body_bytes)
        self.check_csrf(request, session_id, form)
        return user, session_id, form

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

    def redacted_audio(
        self, stored_path: str, expected_sha256: str | None
    ) -> tuple[Path | None, str]:
        """The redacted copy the pipeline wrote, and its state: ``ok``, ``missing`` or ``changed``
        (the file there is not that copy: its hash differs). A relative path (databases written
        before paths were stored absolute) is looked for beside the database, in the default
        ``<db>.redacted/`` folder, then in the working directory."""
        if not expected_sha256:
            return None, "changed"
        state = "missing"
        for candidate in audio_candidates(stored_path, self.options.db_path):
            try:
                stat = candidate.stat()
            except OSError:
                continue
            if _file_sha256(str(candidate), stat.st_mtime_ns, stat.st_size) == expected_sha256:
                return candidate, "ok"
            state = "changed"
        return None, state

    # --- the app -------------------------------------------------------------------------------

    def build(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI):
            yield
            self.store.close()  # the file is free as soon as the server stops

        app = FastAPI(
            title="callqa review",
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
            lifespan=lifespan,
        )
        app.state.review = self
        app.add_middleware(_BodyGuard, review=self)
        app.add_middleware(_SecurityHeaders)
        app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
        self._error_handlers(app)
        for page in self.pages:
            module = importlib.import_module(page) if isinstance(page, str) else page
            app.include_router(module.router)
            self.routers.append(module.router)
            self.nav.extend(getattr(module, "NAV", ()))
        self.nav.sort(key=lambda link: link.order)
        coaching = coaching_router(self)  # coaching, disputes, agents' own pages, reports
        app.include_router(coaching)
        self.routers.append(coaching)
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

    def login_required_response(self, request: Request) -> Response:
        """To the login page and back: a page asks for itself, a form post from the browser for the
        page it was sent from (so an expired session on Submit leads back to the filled form); an
        API call or audio request gets 401."""
        if _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        if request.method == "POST" and "text/html" in request.headers.get("accept", ""):
            referer = urlsplit(request.headers.get("referer", ""))
            same_site = referer.netloc == request.headers.get("host")
            target = referer.path + (f"?{referer.query}" if referer.query else "")
            return RedirectResponse(
                "/login?" + urlencode({"next": safe_next(target if same_site else None)}),
                status_code=303,
            )
        return JSONResponse({"detail": "login required"}, status_code=401)

    def too_large_response(self, request: Request, limit_bytes: int) -> Response:
        megabytes = limit_bytes / (1024 * 1024)
        size = f"{megabytes:g} MB" if megabytes >= 1 else f"{limit_bytes // 1024} KB"
        return self.error_page(
            request,
            413,
            f"The form was larger than {size}, the most this app accepts: nothing was saved. "
            "Shorten the comments and send it again.",
        )

    def _error_handlers(self, app: FastAPI) -> None:
        @app.exception_handler(LoginRequired)
        async def login_required(request: Request, exc: LoginRequired):
            return self.login_required_response(request)

        @app.exception_handler(BodyTooLarge)
        async def body_too_large(request: Request, exc: BodyTooLarge):
            response = self.too_large_response(request, exc.limit_bytes)
            response.headers["connection"] = "close"  # the rest of the body is not read
            return response

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
