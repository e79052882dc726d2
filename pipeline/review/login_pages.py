"""Log in, log out, and the home redirect."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.review.coaching import agent_may_open
from pipeline.review.app import ReviewApp, review_of, safe_next
from pipeline.review.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    USERNAME,
    login_wait_s,
    new_token,
    verify_password,
)

router = APIRouter()


def login_form(
    review: ReviewApp,
    request: Request,
    error: str = "",
    status_code: int = 200,
    next_path: str = "/queue",
):
    nonce = new_token()
    response = review.render(
        request,
        "login.html",
        {
            "error": error,
            "login_csrf": review.signer.csrf_token(nonce),
            "next": safe_next(next_path),
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE, review.signer.login_cookie(nonce), max_age=int(review.options.login.login_form_ttl_s),
        httponly=True, samesite="strict", secure=review.options.cookie_secure, path="/login",
    )  # fmt: skip
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/queue"):
    return login_form(review_of(request), request, next_path=next)


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    return await run_in_threadpool(_login, review_of(request), request, form)


@router.post("/logout")
async def logout(request: Request):
    review = review_of(request)
    user, session_id, _ = await review.form_post(request)

    def work():
        with review.store.open() as db:
            db.revoke_session(session_id)
            db.audit(user.username, "logout", None)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return await run_in_threadpool(work)


@router.get("/")
def home(request: Request):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
    return RedirectResponse("/my" if user.role == "agent" else "/queue", status_code=303)


def _login(review: ReviewApp, request: Request, form) -> Response:
    policy = review.options.login
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))
    nonce = review.signer.login_nonce(request.cookies.get(LOGIN_COOKIE), policy.login_form_ttl_s)
    if not nonce or not review.signer.csrf_ok(nonce, str(form.get("csrf_token") or "")):
        return login_form(
            review, request, "The login form expired: please try again.", 403, next_path
        )
    address = request.client.host if request.client else "unknown"
    with review.store.open() as db:
        wait_s = login_wait_s(db.login_failure_counts(username, address), policy)
        if wait_s > 0:
            db.audit(username, "login_throttled", address)
            seconds = math.ceil(wait_s)
            wait = f"{math.ceil(seconds / 60)} minutes" if seconds > 120 else f"{seconds} seconds"
            response = login_form(
                review,
                request,
                f"Too many failed logins for this name: wait {wait} and try again.",
                429,
                next_path,
            )
            response.headers["retry-after"] = str(seconds)
            return response
        found = db.user(username) if USERNAME.fullmatch(username) else None
        user, password_hash = found if found else (None, None)
    # argon2 takes a moment: verify with the database closed, so the nightly run can write.
    ok = verify_password(password_hash, password) and user is not None and not user.disabled
    with review.store.open() as db:
        if not ok:
            db.record_login_failure(username, address, policy.forget_after_s)
            return login_form(review, request, "Wrong user name or password.", 401, next_path)
        session_id = new_token()
        db.create_session(user.username, session_id, policy.session_ttl_s)
        db.record_login(user.username, address)
    if user.role == "agent" and not agent_may_open(next_path.split("?")[0]):
        next_path = "/my"
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, review.signer.session_cookie(session_id), max_age=int(policy.session_ttl_s),
        httponly=True, samesite="strict", secure=review.options.cookie_secure, path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response
