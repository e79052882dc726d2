"""Review-app pages for coaching and production: agent scorecards, the calls behind every figure,
coaching sessions and follow-ups, production reports with exports, disputes, and the ``agent``
role's own pages (their reviewed calls: listen, read, acknowledge, dispute a criterion).

Mounted by ``ReviewApp.build()``; it reuses the app's login, CSRF check, templates and error pages.
Team scope applies everywhere: a supervisor reaches only their teams' agents, calls, sessions and
disputes (anything else is a 404, like a call that does not exist); an agent reaches only ``/my``.
"""

from __future__ import annotations

import functools
import re
from datetime import date, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.reports import (
    build_scorecard,
    follow_up_list,
    format_value,
    line_chart,
    metric_label,
    production_charts,
    render_production_html,
)
from pipeline.store import reports_sql
from pipeline.store.coaching_store import GRADE_STATUSES, CoachingDB, SessionInput
from pipeline.store.review_store import NotFound, User, _scope_sql

if TYPE_CHECKING:
    from pipeline.review.app import ReviewApp

AGENT_ID = re.compile(r"[A-Za-z0-9._@-]{1,100}")
CRITERION_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
HEX_ID = re.compile(r"[0-9a-f]{32}")
MAX_TEXT_CHARS = 5000
DEFAULT_RANGE_DAYS = 28
STAFF = ("supervisor", "qa_lead", "admin")
TREND_CHARTS = (("auto_score", "Mean auto score"), ("handle_time_s", "Handle time (s)"),
                ("agent_interruptions", "Interruptions per call"), ("unhappy", "Unhappy-customer share"))  # fmt: skip


class BadForm(ValueError):
    """A form or query value that cannot be used; the message names the field."""


def agent_may_open(path: str) -> bool:
    """The paths an ``agent`` account may request (its own pages, logging out, static files)."""
    return path in ("/", "/my", "/logout") or path.startswith(("/my/", "/static/"))


def _date(value: str | None, name: str, default: date | None = None) -> date | None:
    text = (value or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadForm(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _text(form, name: str, required: bool = False) -> str | None:
    value = str(form.get(name) or "").strip()[:MAX_TEXT_CHARS]
    if required and not value:
        raise BadForm(f"{name}: required")
    return value or None


def _agent_id(value: str) -> str:
    if not AGENT_ID.fullmatch(value):
        raise NotFound(value)
    return value


def _link(path: str, **params) -> str:
    return path + "?" + urlencode({k: v for k, v in params.items() if v is not None})


def coaching_router(review_app: ReviewApp) -> APIRouter:
    """The routes; ``review_app`` gives login, CSRF, rendering and the store."""
    from pipeline.review.call_pages import checked_call_id
    router = APIRouter()
    review_app.templates.env.filters.update(fmt=format_value, metric_label=metric_label)

    def staff(request: Request, db) -> User:
        user, _ = review_app.authenticate(request, db)
        review_app.require_role(user, *STAFF)
        return user

    def report_range(request: Request, db, user: User) -> tuple[date, date]:
        """``from``/``to`` from the query, else the last 28 days up to the newest call in scope."""
        query = request.query_params
        last = CoachingDB(db).reports.call_date_range()[1] or date.today()
        date_to = _date(query.get("to"), "to", last)
        date_from = _date(
            query.get("from"), "from", date_to - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        )
        if date_to < date_from:
            raise BadForm("to: before from")
        return date_from, date_to

    def as_of(request: Request) -> date:
        return _date(request.query_params.get("as_of"), "as_of", date.today())

    async def posted(request: Request, work):
        form = await request.form()

        def run():
            with review_app.store.open() as db:
                user, session_id = review_app.authenticate(request, db)
                review_app.check_csrf(request, session_id, form)
                return work(db, user, form)

        try:
            return await run_in_threadpool(run)
        except (BadForm, ValueError) as exc:
            from pipeline.review.app import BadInput

            raise BadInput(str(exc)) from exc

    def guarded(handler):
        """GET handlers: a bad query value is a 400 with its message."""

        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except BadForm as exc:
                from pipeline.review.app import BadInput

                raise BadInput(str(exc)) from exc

        return wrapped

    # --- agents and scorecards --------------------------------------------------------------------

    @router.get("/agents", response_class=HTMLResponse)
    @guarded
    def agents(request: Request):
        with review_app.store.open() as db:
            user = staff(request, db)
            rows = CoachingDB(db).agents(user)
            date_from, date_to = report_range(request, db, user)
        return review_app.render(
            request,
            "coaching/agents.html",
            {"agents": rows, "date_from": date_from, "date_to": date_to},
        )

    @router.get("/agents/{agent_id}", response_class=HTMLResponse)
    @guarded
    def scorecard(request: Request, agent_id: str, saved: str = ""):
        agent_id = _agent_id(agent_id)
        with review_app.store.open() as db:
            user = staff(request, db)
            date_from, date_to = report_range(request, db, user)
            scope, params = _scope_sql(user)
            card = build_scorecard(
                CoachingDB(db).reports, agent_id, date_from, date_to, as_of(request), scope, params
            )
            if card is None:
                raise NotFound(agent_id)
            focus_choices = [(m, metric_label(m)) for m in reports_sql.METRICS] + [
                (f"{reports_sql.CRITERION_PREFIX}{c}", f"{c} pass rate")
                for c in CoachingDB(db).reports.criterion_ids()
            ]
        weeks = card["weeks"]
        charts = [
            line_chart(title, [w["week"] for w in weeks],
                       {agent_id: [w[key] for w in weeks], "team median": [w[f"team_{key}"] for w in weeks]})
            for key, title in TREND_CHARTS
        ]  # fmt: skip
        span = {"from": date_from.isoformat(), "to": date_to.isoformat()}
        return review_app.render(
            request,
            "coaching/scorecard.html",
            {
                "card": card, "charts": charts, "span": span, "focus_choices": focus_choices, "saved": saved,
                "today": date.today(), "calls_link": lambda **p: _link("/reports/calls", **span, **p),
            },
        )  # fmt: skip

    @router.get("/reports/calls", response_class=HTMLResponse)
    @guarded
    def calls_behind(request: Request):
        """The calls behind a figure: ``agent`` or ``team``, the range, optionally a ``week``, a
        ``criterion`` (with ``status``), reviewed or unhappy calls only, and the ``metric`` to show."""
        query = request.query_params
        agent_id = query.get("agent")
        team = query.get("team") or None
        criterion = query.get("criterion")
        status = query.get("status")
        metric = query.get("metric") or ""
        if agent_id is not None:
            _agent_id(agent_id)
        if criterion is not None and not CRITERION_ID.fullmatch(criterion):
            raise BadForm("criterion: not a criterion id")
        if status is not None and status not in ("pass", "fail"):
            raise BadForm("status: pass or fail")
        if metric and metric not in reports_sql.METRICS:
            raise BadForm(f"metric: one of {', '.join(reports_sql.METRICS)}")
        with review_app.store.open() as db:
            user = staff(request, db)
            date_from, date_to = report_range(request, db, user)
            week = _date(query.get("week"), "week")
            scope, params = _scope_sql(user)
            rows = CoachingDB(db).reports.calls_behind( date_from, date_to, agent_id=agent_id, team=team, week=week,
                criterion=criterion, criterion_status=status, reviewed_only=metric == "human_score",
                unhappy_only=query.get("unhappy") == "1", scope=scope, scope_params=params,
            )  # fmt: skip
        return review_app.render(
            request, "coaching/calls.html",
            {"rows": rows, "agent_id": agent_id, "team": team, "week": week, "criterion": criterion, "status": status,
             "metric": metric, "date_from": date_from, "date_to": date_to, "metrics": reports_sql.METRICS},
        )  # fmt: skip

    # --- coaching -------------------------------------------------------------------------------

    @router.post("/agents/{agent_id}/coaching")
    async def add_session(request: Request, agent_id: str):
        agent_id = _agent_id(agent_id)

        def work(db, user, form):
            focus = tuple(dict.fromkeys(str(f) for f in form.getlist("focus")))
            known = set(reports_sql.METRICS) | {
                f"{reports_sql.CRITERION_PREFIX}{c}" for c in CoachingDB(db).reports.criterion_ids()
            }
            if not focus or any(f not in known for f in focus):
                raise BadForm("focus: choose one or more of the listed criteria or metrics")
            held_on = _date(form.get("held_on"), "held_on", date.today())
            follow_up_on = _date(form.get("follow_up_on"), "follow_up_on")
            if follow_up_on is None or follow_up_on < held_on:
                raise BadForm("follow_up_on: a date on or after the session")
            session = SessionInput(agent_id, held_on, focus, _text(form, "commitment", True), follow_up_on,
                                   _text(form, "notes"))  # fmt: skip
            CoachingDB(db).add_session(user, session)
            return RedirectResponse(f"/agents/{agent_id}?saved=coaching", status_code=303)

        return await posted(request, work)

    @router.get("/coaching/follow-ups", response_class=HTMLResponse)
    @guarded
    def follow_ups(request: Request):
        today = as_of(request)
        with review_app.store.open() as db:
            user = staff(request, db)
            rows = follow_up_list(
                CoachingDB(db).reports, CoachingDB(db).sessions_in_scope(user), today
            )
        return review_app.render(
            request, "coaching/follow_ups.html", {"rows": rows, "as_of": today}
        )

    @router.post("/coaching/{session_id}/close")
    async def close_session(request: Request, session_id: str):
        if not HEX_ID.fullmatch(session_id):
            raise NotFound(session_id)

        def work(db, user, form):
            review_app.require_role(user, *STAFF)
            CoachingDB(db).close_session(
                user, session_id, str(form.get("outcome") or ""), _text(form, "outcome_note")
            )
            return RedirectResponse("/coaching/follow-ups", status_code=303)

        return await posted(request, work)

    # --- production -----------------------------------------------------------------------------

    def production_query(request: Request) -> tuple[str, str]:
        by = request.query_params.get("by") or "week"
        group = request.query_params.get("group") or "team"
        if by not in reports_sql.PERIODS:
            raise BadForm(f"by: one of {', '.join(reports_sql.PERIODS)}")
        if group not in reports_sql.GROUPS:
            raise BadForm(f"group: one of {', '.join(reports_sql.GROUPS)}")
        return by, group

    @router.get("/reports/production", response_class=HTMLResponse)
    @guarded
    def production(request: Request):
        by, group = production_query(request)
        with review_app.store.open() as db:
            user = staff(request, db)
            date_from, date_to = report_range(request, db, user)
            rows = CoachingDB(db).reports.production(
                by, group, date_from, date_to, *_scope_sql(user)
            )
        args = {"by": by, "group": group, "from": date_from.isoformat(), "to": date_to.isoformat()}
        return review_app.render(
            request, "coaching/production.html",
            {"rows": rows, "charts": production_charts(rows), "args": args, "columns": reports_sql.PRODUCTION_COLUMNS,
             "periods": reports_sql.PERIODS, "groups": list(reports_sql.GROUPS),
             "export_link": lambda fmt: _link(f"/reports/production.{fmt}", **args)},
        )  # fmt: skip

    @router.get("/reports/production.{file_format}")
    @guarded
    def production_export(request: Request, file_format: str):
        if file_format not in ("csv", "parquet", "html"):
            raise NotFound(file_format)
        by, group = production_query(request)
        with review_app.store.open() as db:
            user = staff(request, db)
            date_from, date_to = report_range(request, db, user)
            rows = CoachingDB(db).reports.production(
                by, group, date_from, date_to, *_scope_sql(user)
            )
            name = f"production_{by}_{group}_{date_from}_{date_to}.{file_format}"
            title = f"Production by {by} and {group}, {date_from} to {date_to}"
            if file_format == "html":
                subtitle = f"{sum(r['calls'] for r in rows)} calls · scope of {user.username}"
                page = render_production_html(rows, title, subtitle, reports_sql.PRODUCTION_COLUMNS)
                return Response(
                    page,
                    media_type="text/html",
                    headers={"content-disposition": f'attachment; filename="{name}"'},
                )
            with TemporaryDirectory() as tmp:
                path = Path(tmp) / name
                CoachingDB(db).reports.export_production(rows, str(path), file_format)
                content = path.read_bytes()
        media = "text/csv" if file_format == "csv" else "application/vnd.apache.parquet"
        return Response(
            content,
            media_type=media,
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    # --- disputes, for supervisors and QA leads ---------------------------------------------------

    @router.get("/disputes", response_class=HTMLResponse)
    def disputes(request: Request):
        with review_app.store.open() as db:
            user = staff(request, db)
            coaching = CoachingDB(db)
            pending = coaching.disputes(user, "pending")
            decided = coaching.disputes(user, "accepted") + coaching.disputes(user, "rejected")
        decided.sort(key=lambda d: d["resolved_at"], reverse=True)
        return review_app.render(
            request,
            "coaching/disputes.html",
            {"pending": pending, "decided": decided[:50], "statuses": GRADE_STATUSES},
        )

    @router.post("/disputes/{dispute_id}/{decision}")
    async def decide(request: Request, dispute_id: str, decision: str):
        if not HEX_ID.fullmatch(dispute_id) or decision not in ("accept", "reject"):
            raise NotFound(dispute_id)

        def work(db, user, form):
            review_app.require_role(user, *STAFF)
            reason = _text(form, "reason", required=True)
            status = str(form.get("status") or "") or None
            points_text = str(form.get("points") or "").strip()
            try:
                points = float(points_text) if points_text else None
            except ValueError:
                raise BadForm(f"points: {points_text!r} is not a number") from None
            CoachingDB(db).resolve_dispute(
                user, dispute_id, decision == "accept", reason, status, points
            )
            return RedirectResponse("/disputes", status_code=303)

        return await posted(request, work)

    # --- the agent's own pages --------------------------------------------------------------------

    def agent_user(request: Request, db) -> tuple[User, str]:
        user, _ = review_app.authenticate(request, db)
        if user.role != "agent":
            raise NotFound(request.url.path)
        return user, CoachingDB(db).agent_id_of(user)

    @router.get("/my", response_class=HTMLResponse)
    def my_reviews(request: Request):
        with review_app.store.open() as db:
            _, agent_id = agent_user(request, db)
            coaching = CoachingDB(db)
            rows = coaching.own_reviewed_calls(agent_id)
            sessions = coaching.sessions(agent_id)
        return review_app.render(
            request,
            "coaching/my_reviews.html",
            {"rows": rows, "agent_id": agent_id, "sessions": sessions},
        )

    @router.get("/my/calls/{call_id}", response_class=HTMLResponse)
    def my_call(request: Request, call_id: str, done: str = ""):
        with review_app.store.open() as db:
            _, agent_id = agent_user(request, db)
            view = CoachingDB(db).own_call_view(agent_id, checked_call_id(call_id))
        duration = view["call"]["duration_s"] or max([t["end_s"] for t in view["turns"]] or [1.0])
        return review_app.render(
            request, "coaching/my_call.html", view | {"duration": duration, "done": done}
        )

    @router.get("/my/calls/{call_id}/audio")
    def my_audio(request: Request, call_id: str):
        with review_app.store.open() as db:
            _, agent_id = agent_user(request, db)
            stored, sha256 = CoachingDB(db).own_audio(agent_id, checked_call_id(call_id))
        path, _ = review_app.redacted_audio(stored, sha256)
        if path is None:
            raise NotFound(call_id)
        return FileResponse(path, media_type="audio/flac" if path.suffix == ".flac" else "application/octet-stream",
                            content_disposition_type="inline", filename=f"{call_id}{path.suffix}")  # fmt: skip

    @router.post("/my/calls/{call_id}/acknowledge")
    async def acknowledge(request: Request, call_id: str):
        def work(db, user, form):
            if user.role != "agent":
                raise NotFound(call_id)
            coaching = CoachingDB(db)
            coaching.acknowledge(user, coaching.agent_id_of(user), checked_call_id(call_id))
            return RedirectResponse(f"/my/calls/{call_id}?done=acknowledged", status_code=303)

        return await posted(request, work)

    @router.post("/my/calls/{call_id}/dispute")
    async def dispute(request: Request, call_id: str):
        def work(db, user, form):
            if user.role != "agent":
                raise NotFound(call_id)
            criterion = str(form.get("criterion_id") or "")
            if not CRITERION_ID.fullmatch(criterion):
                raise BadForm("criterion_id: choose the criterion you dispute")
            coaching = CoachingDB(db)
            coaching.raise_dispute(user, coaching.agent_id_of(user), checked_call_id(call_id), criterion,
                                   _text(form, "comment", required=True))  # fmt: skip
            return RedirectResponse(f"/my/calls/{call_id}?done=disputed", status_code=303)

        return await posted(request, work)

    return router


__all__ = ["agent_may_open", "coaching_router"]
