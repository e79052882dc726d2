"""The call page (redacted audio, timeline, transcript, rubric, grading form), its JSON twin, the
audio file, claiming and releasing, and submitting a review."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.review.app import BadInput, ReviewApp, review_of
from pipeline.review.review_form import GRADE_STATUSES, FormProblem, parse_review_form
from pipeline.store.review_store import NotFound, User

CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
AUDIO_TYPES = {
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
}

router = APIRouter()


def checked_call_id(call_id: str) -> str:
    if not CALL_ID.fullmatch(call_id):
        raise NotFound(call_id)
    return call_id


@router.get("/calls/{call_id}")
def call_page(request: Request, call_id: str, amend: str = "", submitted: str = ""):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        view = db.call_view(user, checked_call_id(call_id))
    return review.render(request, "call.html", call_context(user, view, amend, submitted))


@router.get("/api/calls/{call_id}")
def api_call(request: Request, call_id: str):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        view = db.call_view(user, checked_call_id(call_id))
    view["call"].pop("has_audio", None)
    return view


@router.get("/calls/{call_id}/audio")
def audio(request: Request, call_id: str):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        path, sha256 = db.audio_file(user, checked_call_id(call_id))
    if not review.redacted_audio_ok(path, sha256):
        raise NotFound(call_id)
    media_type = AUDIO_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
    # FileResponse answers Range requests (206 + Content-Range), so the player can seek.
    return FileResponse(
        path,
        media_type=media_type,
        content_disposition_type="inline",
        filename=f"{call_id}{Path(path).suffix}",
    )


async def _claim_action(request: Request, call_id: str, release: bool):
    """Claim a call (then open it) or release it (then back to the queue)."""
    review = review_of(request)
    user, _, _ = await review.form_post(request)

    def work():
        with review.store.open() as db:
            cid = checked_call_id(call_id)
            (db.release if release else db.claim)(user, cid)
        return RedirectResponse("/queue" if release else f"/calls/{cid}", status_code=303)

    return await run_in_threadpool(work)


@router.post("/calls/{call_id}/claim")
async def claim(request: Request, call_id: str):
    return await _claim_action(request, call_id, release=False)


@router.post("/calls/{call_id}/release")
async def release(request: Request, call_id: str):
    return await _claim_action(request, call_id, release=True)


@router.post("/calls/{call_id}/review")
async def submit(request: Request, call_id: str):
    review = review_of(request)
    user, _, form = await review.form_post(request)
    return await run_in_threadpool(_submit_review, review, user, call_id, form)


def call_context(user: User, view: dict, amend: str, submitted: str) -> dict:
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


def _submit_review(review: ReviewApp, user: User, call_id: str, form) -> Response:
    with review.store.open() as db:
        call_id = checked_call_id(call_id)
        view = db.call_view(user, call_id)
        amends = str(form.get("amends_review_id") or "").strip() or None
        try:
            submission = parse_review_form(call_id, form, view["criteria"], view["score"], amends)
        except FormProblem as exc:
            raise BadInput(str(exc)) from exc
        review_id = db.submit_review(user, submission)
    return RedirectResponse(f"/calls/{call_id}?submitted={review_id}", status_code=303)
