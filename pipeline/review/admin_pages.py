"""The audit log (QA leads and admins) and user administration (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.review.app import BadInput, NavLink, ReviewApp, review_of
from pipeline.review.auth import USERNAME, check_password_rules, hash_password
from pipeline.review.call_pages import CALL_ID
from pipeline.review.review_form import MAX_COMMENT_CHARS
from pipeline.store.review_store import ROLES, NotFound, ReviewConflict, User

router = APIRouter()
NAV = (
    NavLink("Audit log", "/audit", roles=("qa_lead", "admin"), order=80),
    NavLink("Users", "/admin/users", roles=("admin",), order=90),
    NavLink("Delete a call", "/admin/delete", roles=("admin",), order=95),
)


@router.get("/audit")
def audit(request: Request, call: str = "", action: str = ""):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        review.require_role(user, "qa_lead", "admin")
        rows = db.audit_rows(call.strip()[:64] or None, action.strip()[:40] or None)
    return review.render(request, "audit.html", {"rows": rows, "call": call, "action": action})


@router.get("/admin/users")
def users(request: Request):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        review.require_role(user, "admin")
        users = db.users()
    return review.render(
        request, "users.html", {"users": users, "roles": ROLES, "error": "", "created": ""}
    )


@router.post("/admin/users")
async def add_user(request: Request):
    review = review_of(request)
    user, _, form = await review.form_post(request, "admin")
    return await run_in_threadpool(_add_user, review, request, user, form)


@router.post("/admin/users/{username}/{action}")
async def change_user(request: Request, username: str, action: str):
    review = review_of(request)
    user, _, _ = await review.form_post(request, "admin")

    def work():
        with review.store.open() as db:
            if action not in ("disable", "enable") or not USERNAME.fullmatch(username):
                raise NotFound(username)
            if username == user.username:
                raise BadInput("you cannot disable your own account")
            db.set_disabled(username, action == "disable", user.username)
        return RedirectResponse("/admin/users", status_code=303)

    return await run_in_threadpool(work)


def _add_user(review: ReviewApp, request: Request, user: User, form) -> Response:
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
        with review.store.open() as db:
            try:
                db.add_user(username, password_hash, role, teams, by=user.username)
            except ReviewConflict as exc:
                error = str(exc)
    with review.store.open() as db:
        users = db.users()
    return review.render(
        request, "users.html", {"users": users, "roles": ROLES, "error": error, "created": "" if error else username},
        status_code=400 if error else 200,
    )  # fmt: skip


# --- deleting a call everywhere (admins) --------------------------------------------------------


@router.get("/admin/delete")
def delete_form(request: Request):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        review.require_role(user, "admin")
    return review.render(request, "delete_call.html", {"deleted": None, "error": ""})


@router.post("/admin/delete")
async def delete_call(request: Request):
    review = review_of(request)
    user, _, form = await review.form_post(request, "admin")
    return await run_in_threadpool(_delete_call, review, request, user, form)


def _delete_call(review: ReviewApp, request: Request, user: User, form) -> Response:
    """Delete one call everywhere (store/deletion.py), with the admin's reason in the audit log."""
    from pipeline.store.deletion import DeletionError, delete_calls

    call_id = str(form.get("call_id") or "").strip()
    reason = str(form.get("reason") or "").strip()[:MAX_COMMENT_CHARS]
    context = {"deleted": None, "error": ""}
    if not CALL_ID.fullmatch(call_id):
        context["error"] = "give the call id as the queue shows it"
    else:
        try:
            context["deleted"] = delete_calls(
                review.options.db_path, [call_id], user.username, reason, original=form.get("original") == "on"
            )
        except DeletionError as exc:
            context["error"] = str(exc)
    return review.render(request, "delete_call.html", context, status_code=400 if context["error"] else 200)
