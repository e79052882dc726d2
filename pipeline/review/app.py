"""The supervisor review app: queue, call page (redacted audio, timeline, transcript, rubric, grading),
audit log and user admin. Server-rendered Jinja2 pages with a little plain JavaScript.

Every route but the login page and the static files needs a session; every form post needs the
session's CSRF token; supervisors only ever see calls of their teams (a call of another team is
a 404, exactly like a call that does not exist). The database is opened per request and closed
again (see ``pipeline/store/review_store.py``), so the nightly run can write in between.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

import duckdb
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from pipeline.digest import file_sha256
from pipeline.review.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginPolicy,
    Signer,
    check_password_rules,
    hash_password,
    new_token,
    verify_password,
)
from pipeline.review.coaching import agent_may_open, coaching_router
from pipeline.store.review_store import (
    QUEUE_STATUSES,
    REASON_FILTERS,
    ROLES,
    CriterionGrade,
    Forbidden,
    NotFound,
    QueueFilters,
    ReviewConflict,
    ReviewStore,
    ReviewSubmission,
    User,
)
from pipeline.store.store import LOCK_RETRY_S

HERE = Path(__file__).parent
CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
GRADE_STATUSES = ("pass", "fail", "na")
MAX_COMMENT_CHARS = 5000
AUDIO_TYPES = {
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
}
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


def _clock(seconds: float | None) -> str:
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
    return file_sha256(path)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme), for the post-login redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return request.method == "GET" and not path.startswith("/api/") and not path.endswith("/audio")


class ReviewApp:
    """Holds the options, the store and the templates; ``build()`` returns the FastAPI app."""

    def __init__(self, options: AppOptions):
        self.options = options
        self.store = ReviewStore(options.db_path, options.lock_timeout_s)
        self.signer = Signer(options.secret_key)
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        env.filters.update(clock=_clock, when=_when, num=_num)
        self.templates = Jinja2Templates(env=env)

    # --- plumbing ------------------------------------------------------------------------------

    def authenticate(self, request: Request, db) -> tuple[User, str]:
        session_id = self.signer.session_id(
            request.cookies.get(SESSION_COOKIE), self.options.login.session_ttl_s
        )
        user = db.session_user(session_id) if session_id else None
        if user is None:
            raise LoginRequired()
        if user.role == "agent" and not agent_may_open(request.url.path):
            raise NotFound(request.url.path)  # an agent sees only their own reviewed calls (/my)
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
        base = {"user": user, "csrf": getattr(request.state, "csrf", ""), "path": request.url.path}
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
        app.add_middleware(_SecurityHeaders)
        app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
        self._error_handlers(app)
        self._login_routes(app)
        self._queue_routes(app)
        self._call_routes(app)
        self._admin_routes(app)
        app.include_router(coaching_router(self))
        return app

    def _error_page(self, request: Request, status: int, message: str) -> Response:
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
            return self._error_page(request, 404, "No such call (or not one of your teams' calls).")

        @app.exception_handler(Forbidden)
        async def forbidden(request: Request, exc: Forbidden):
            return self._error_page(request, 403, str(exc) or "Not allowed.")

        @app.exception_handler(CsrfFailed)
        async def csrf_failed(request: Request, exc: CsrfFailed):
            return self._error_page(
                request,
                403,
                "The form was stale or not sent by this site: reload the page and try again.",
            )

        @app.exception_handler(ReviewConflict)
        async def conflict(request: Request, exc: ReviewConflict):
            return self._error_page(request, 409, str(exc))

        @app.exception_handler(duckdb.IOException)
        async def database_busy(request: Request, exc: duckdb.IOException):
            if "lock" not in str(exc).lower():
                return self._error_page(request, 500, "The database could not be read.")
            response = self._error_page(
                request,
                503,
                "The database is busy (the nightly run is writing): try again in a moment.",
            )
            response.headers["retry-after"] = "5"
            return response

        @app.exception_handler(BadInput)
        async def bad_input(request: Request, exc: BadInput):
            return self._error_page(request, 400, str(exc))

    # --- login ---------------------------------------------------------------------------------

    def _login_form(
        self, request: Request, error: str = "", status_code: int = 200, next_path: str = "/queue"
    ):
        nonce = new_token()
        response = self.render(
            request,
            "login.html",
            {
                "error": error,
                "login_csrf": self.signer.csrf_token(nonce),
                "next": _safe_next(next_path),
            },
            status_code=status_code,
        )
        response.set_cookie(
            LOGIN_COOKIE, self.signer.login_cookie(nonce), max_age=int(self.options.login.login_form_ttl_s),
            httponly=True, samesite="strict", secure=self.options.cookie_secure, path="/login",
        )  # fmt: skip
        return response

    def _login_routes(self, app: FastAPI) -> None:
        @app.get("/login")
        def login_page(request: Request, next: str = "/queue"):
            return self._login_form(request, next_path=next)

        @app.post("/login")
        async def login(request: Request):
            form = await request.form()
            return await run_in_threadpool(self._login, request, form)

        @app.post("/logout")
        async def logout(request: Request):
            form = await request.form()

            def work():
                with self.store.open() as db:
                    user, session_id = self.authenticate(request, db)
                    self.check_csrf(request, session_id, form)
                    db.revoke_session(session_id)
                    db.audit(user.username, "logout", None)
                response = RedirectResponse("/login", status_code=303)
                response.delete_cookie(SESSION_COOKIE, path="/")
                return response

            return await run_in_threadpool(work)

        @app.get("/")
        def home(request: Request):
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
            return RedirectResponse("/my" if user.role == "agent" else "/queue", status_code=303)

    def _login(self, request: Request, form) -> Response:
        policy = self.options.login
        username = str(form.get("username") or "").strip()[:64]
        password = str(form.get("password") or "")
        next_path = _safe_next(str(form.get("next") or ""))
        nonce = self.signer.login_nonce(request.cookies.get(LOGIN_COOKIE), policy.login_form_ttl_s)
        if not nonce or not self.signer.csrf_ok(nonce, str(form.get("csrf_token") or "")):
            return self._login_form(
                request, "The login form expired: please try again.", 403, next_path
            )
        client = request.client.host if request.client else "unknown"
        with self.store.open() as db:
            by_name, by_client = db.recent_failed_logins(username, client, policy.window_s)
            if by_name >= policy.max_failures or by_client >= policy.max_failures_per_client:
                db.audit(username, "login_throttled", client)
                minutes = math.ceil(policy.window_s / 60)
                return self._login_form(
                    request,
                    f"Too many failed logins: wait {minutes} minutes and try again.",
                    429,
                    next_path,
                )
            found = db.user(username) if USERNAME.fullmatch(username) else None
            user, password_hash = found if found else (None, None)
        # argon2 takes a moment: verify with the database closed, so the nightly run can write.
        ok = verify_password(password_hash, password) and user is not None and not user.disabled
        with self.store.open() as db:
            if not ok:
                db.audit(username, "login_failed", client)
                return self._login_form(request, "Wrong user name or password.", 401, next_path)
            session_id = new_token()
            db.create_session(user.username, session_id, policy.session_ttl_s)
            db.audit(user.username, "login", client)
        if user.role == "agent" and not agent_may_open(next_path.split("?")[0]):
            next_path = "/my"
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, self.signer.session_cookie(session_id), max_age=int(policy.session_ttl_s),
            httponly=True, samesite="strict", secure=self.options.cookie_secure, path="/",
        )  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    # --- queue and search ----------------------------------------------------------------------

    def _filters(self, request: Request) -> tuple[QueueFilters, int, list[str]]:
        query = request.query_params
        problems: list[str] = []

        def as_date(name: str) -> date | None:
            text = (query.get(name) or "").strip()
            if not text:
                return None
            try:
                return date.fromisoformat(text)
            except ValueError:
                problems.append(f"{name}: {text!r} is not a date (YYYY-MM-DD)")
                return None

        def as_score(name: str) -> float | None:
            text = (query.get(name) or "").strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                problems.append(f"{name}: {text!r} is not a number")
                return None
            if not 0 <= value <= 100:
                problems.append(f"{name}: scores run from 0 to 100")
                return None
            return value

        status = query.get("status") or "pending"
        reason = query.get("reason") or None
        try:
            page = max(1, min(int(query.get("page") or 1), 1_000_000))
        except ValueError:
            page = 1
        filters = QueueFilters(
            status=status if status in QUEUE_STATUSES else "pending",
            reason=reason if reason in REASON_FILTERS else None,
            agent=(query.get("agent") or "").strip()[:100] or None,
            team=(query.get("team") or "").strip()[:100] or None,
            date_from=as_date("date_from"),
            date_to=as_date("date_to"),
            score_min=as_score("score_min"),
            score_max=as_score("score_max"),
            category=(query.get("category") or "").strip()[:100] or None,
        )
        return filters, page, problems

    def _queue_routes(self, app: FastAPI) -> None:
        @app.get("/queue")
        def queue(request: Request):
            filters, page, problems = self._filters(request)
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                result = db.queue_page(user, filters, page, self.options.page_size)
                choices = db.filter_choices(user)
            args = {k: v for k, v in request.query_params.items() if k != "page" and v}
            return self.render(
                request,
                "queue.html",
                {
                    "result": result, "filters": filters, "problems": problems, "choices": choices,
                    "reasons": list(REASON_FILTERS), "statuses": QUEUE_STATUSES,
                    "page_link": lambda n: "/queue?" + urlencode(args | {"page": n}),
                    "status_link": lambda s: "/queue?" + urlencode({k: v for k, v in args.items() if k != "status"} | {"status": s}),
                },
            )  # fmt: skip

        @app.get("/api/queue")
        def api_queue(request: Request):
            filters, page, problems = self._filters(request)
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                result = db.queue_page(user, filters, page, self.options.page_size)
            return {
                "total": result.total,
                "page": result.page,
                "pages": result.pages,
                "rows": result.rows,
                "problems": problems,
            }

        @app.get("/search")
        def search(request: Request, q: str = ""):
            text = q.strip()[:200]
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                hits = db.search(user, text) if len(text) >= 2 else []
            return self.render(request, "search.html", {"q": text, "hits": hits})

    # --- calls ---------------------------------------------------------------------------------

    def _call_id(self, call_id: str) -> str:
        if not CALL_ID.fullmatch(call_id):
            raise NotFound(call_id)
        return call_id

    def _call_routes(self, app: FastAPI) -> None:
        @app.get("/calls/{call_id}")
        def call_page(request: Request, call_id: str, amend: str = "", submitted: str = ""):
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                view = db.call_view(user, self._call_id(call_id))
            return self.render(
                request, "call.html", self._call_context(user, view, amend, submitted)
            )

        @app.get("/api/calls/{call_id}")
        def api_call(request: Request, call_id: str):
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                view = db.call_view(user, self._call_id(call_id))
            view["call"].pop("has_audio", None)
            return view

        @app.get("/calls/{call_id}/audio")
        def audio(request: Request, call_id: str):
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                path, sha256 = db.audio_file(user, self._call_id(call_id))
            if not self.redacted_audio_ok(path, sha256):
                raise NotFound(call_id)
            media_type = AUDIO_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
            # FileResponse answers Range requests (206 + Content-Range), so the player can seek.
            return FileResponse(
                path,
                media_type=media_type,
                content_disposition_type="inline",
                filename=f"{call_id}{Path(path).suffix}",
            )

        async def claim_action(request: Request, call_id: str, release: bool):
            """Claim a call (then open it) or release it (then back to the queue)."""
            form = await request.form()

            def work():
                with self.store.open() as db:
                    user, session_id = self.authenticate(request, db)
                    self.check_csrf(request, session_id, form)
                    cid = self._call_id(call_id)
                    (db.release if release else db.claim)(user, cid)
                return RedirectResponse("/queue" if release else f"/calls/{cid}", status_code=303)

            return await run_in_threadpool(work)

        @app.post("/calls/{call_id}/claim")
        async def claim(request: Request, call_id: str):
            return await claim_action(request, call_id, release=False)

        @app.post("/calls/{call_id}/release")
        async def release(request: Request, call_id: str):
            return await claim_action(request, call_id, release=True)

        @app.post("/calls/{call_id}/review")
        async def review(request: Request, call_id: str):
            form = await request.form()
            return await run_in_threadpool(self._submit_review, request, call_id, form)

    def _call_context(self, user: User, view: dict, amend: str, submitted: str) -> dict:
        queue = view["queue"]
        reviews = view["reviews"]
        form_mode, prefill, amends = None, {}, None
        if amend:
            original = next((r for r in reviews if r["review_id"] == amend), None)
            if (
                original
                and not original["amended"]
                and (original["reviewer"] == user.username or user.sees_all_teams)
            ):
                form_mode, amends = "amend", original
                prefill = original["grades"]
        elif queue and queue["status"] == "in_review" and queue["assigned_to"] == user.username:
            form_mode = "grade"
        duration = view["call"]["duration_s"] or max([t["end_s"] for t in view["turns"]] or [1.0])
        return view | {
            "form_mode": form_mode,
            "prefill": prefill,
            "amends": amends,
            "submitted": submitted,
            "duration": duration,
            "can_amend": lambda r: (
                not r["amended"] and (r["reviewer"] == user.username or user.sees_all_teams)
            ),
            "grade_statuses": GRADE_STATUSES,
        }

    def _submit_review(self, request: Request, call_id: str, form) -> Response:
        with self.store.open() as db:
            user, session_id = self.authenticate(request, db)
            self.check_csrf(request, session_id, form)
            call_id = self._call_id(call_id)
            view = db.call_view(user, call_id)
            amends = str(form.get("amends_review_id") or "").strip() or None
            submission = parse_review_form(call_id, form, view["criteria"], view["score"], amends)
            review_id = db.submit_review(user, submission)
        return RedirectResponse(f"/calls/{call_id}?submitted={review_id}", status_code=303)

    # --- audit log and users -------------------------------------------------------------------

    def _admin_routes(self, app: FastAPI) -> None:
        @app.get("/audit")
        def audit(request: Request, call: str = "", action: str = ""):
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                self.require_role(user, "qa_lead", "admin")
                rows = db.audit_rows(call.strip()[:64] or None, action.strip()[:40] or None)
            return self.render(
                request, "audit.html", {"rows": rows, "call": call, "action": action}
            )

        @app.get("/admin/users")
        def users(request: Request):
            with self.store.open() as db:
                user, _ = self.authenticate(request, db)
                self.require_role(user, "admin")
                users = db.users()
            return self.render(
                request, "users.html", {"users": users, "roles": ROLES, "error": "", "created": ""}
            )

        @app.post("/admin/users")
        async def add_user(request: Request):
            form = await request.form()
            return await run_in_threadpool(self._add_user, request, form)

        @app.post("/admin/users/{username}/{action}")
        async def change_user(request: Request, username: str, action: str):
            form = await request.form()

            def work():
                with self.store.open() as db:
                    user, session_id = self.authenticate(request, db)
                    self.require_role(user, "admin")
                    self.check_csrf(request, session_id, form)
                    if action not in ("disable", "enable") or not USERNAME.fullmatch(username):
                        raise NotFound(username)
                    if username == user.username:
                        raise BadInput("you cannot disable your own account")
                    db.set_disabled(username, action == "disable", user.username)
                return RedirectResponse("/admin/users", status_code=303)

            return await run_in_threadpool(work)

    def _add_user(self, request: Request, form) -> Response:
        with self.store.open() as db:
            user, session_id = self.authenticate(request, db)
            self.require_role(user, "admin")
            self.check_csrf(request, session_id, form)
        username = str(form.get("username") or "").strip()
        role = str(form.get("role") or "")
        teams = [t.strip() for t in str(form.get("teams") or "").split(",") if t.strip()]
        password = str(form.get("password") or "")
        error = ""
        if not USERNAME.fullmatch(username):
            error = "user names are 1-64 letters, digits and . _ @ -"
        elif role not in ROLES:
            error = f"role must be one of {', '.join(ROLES)}"
        elif role == "supervisor" and not teams:
            error = "a supervisor needs at least one team"
        else:
            try:
                check_password_rules(password)
            except ValueError as exc:
                error = str(exc)
        if not error:
            password_hash = hash_password(password)
            with self.store.open() as db:
                try:
                    db.add_user(username, password_hash, role, teams, by=user.username)
                except ReviewConflict as exc:
                    error = str(exc)
        with self.store.open() as db:
            users = db.users()
        return self.render(
            request, "users.html", {"users": users, "roles": ROLES, "error": error, "created": "" if error else username},
            status_code=400 if error else 200,
        )  # fmt: skip


def parse_review_form(
    call_id: str, form, criteria: list[dict], score: dict | None, amends: str | None
) -> ReviewSubmission:
    """The grading form -> a ``ReviewSubmission``; ``BadInput`` names the first problem."""
    grades: list[CriterionGrade] = []
    for criterion in criteria:
        cid = criterion["criterion_id"]
        mode = form.get(f"mode__{cid}")
        comment = str(form.get(f"comment__{cid}") or "").strip()[:MAX_COMMENT_CHARS] or None
        if mode == "agree":
            grades.append(
                CriterionGrade(cid, criterion["status"], criterion["points"], comment, True)
            )
            continue
        if mode != "override":
            raise BadInput(f"{cid}: choose 'agree' or 'override'")
        status = form.get(f"status__{cid}")
        if status not in GRADE_STATUSES:
            raise BadInput(f"{cid}: the override needs a result: pass, fail or N/A")
        points_text = str(form.get(f"points__{cid}") or "").strip()
        maximum = float(criterion["max_points"])
        if status == "na":
            points = None
        elif points_text:
            try:
                points = float(points_text)
            except ValueError:
                raise BadInput(f"{cid}: points {points_text!r} is not a number") from None
            if not (0 <= points <= maximum) or math.isnan(points):
                raise BadInput(f"{cid}: points must be between 0 and {maximum:g}")
        else:
            points = maximum if status == "pass" else 0.0
        grades.append(CriterionGrade(cid, status, points, comment, False))
    applied = [(g, c) for g, c in zip(grades, criteria) if g.status != "na"]
    possible = sum(float(c["max_points"]) for _, c in applied)
    human_score = (
        round(100.0 * sum(g.points or 0.0 for g, _ in applied) / possible, 1) if possible else 100.0
    )
    return ReviewSubmission(
        call_id=call_id,
        grades=grades,
        overall_comment=str(form.get("overall_comment") or "").strip()[:MAX_COMMENT_CHARS] or None,
        coaching_notes=str(form.get("coaching_notes") or "").strip()[:MAX_COMMENT_CHARS] or None,
        amends_review_id=amends,
        rubric_id=score["rubric_id"] if score else None,
        rubric_version=score["rubric_version"] if score else None,
        human_score=human_score,
    )


def create_app(options: AppOptions) -> FastAPI:
    """The review app for one database (the schema is created or updated first)."""
    review_app = ReviewApp(options)
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
