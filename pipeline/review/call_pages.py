"""The call page (redacted audio, timeline with every flag, transcript, rubric, grading form), its
JSON twin, the audio file, claiming and releasing, drafts, and submitting a review."""

from __future__ import annotations

import math
import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.review.app import ReviewApp, review_of
from pipeline.review.flags import FLAG_KINDS, REASONS_SHOWN, call_flags, reason_links
from pipeline.review.review_form import (
    GRADE_STATUSES,
    MAX_COMMENT_CHARS,
    MAX_REASON_CHARS,
    FormProblem,
    form_fields,
    form_values,
    parse_review_form,
)
from pipeline.store.review_store import NotFound, ReviewConflict, User

CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
REVIEW_ID = re.compile(r"[0-9a-f]{1,64}")
AUDIO_TYPES = {
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
}
AUDIO_MESSAGES = {
    "none": "No redacted audio copy was made for this call.",
    "missing": (
        "The recording of this call cannot be found: the redacted copy the nightly run wrote was "
        "moved or deleted. Ask an administrator to restore the redacted-audio folder."
    ),
    "changed": (
        "The recording on disk is not the redacted copy the nightly run wrote (its checksum "
        "differs), so it is not played. Ask an administrator to check the redacted-audio folder."
    ),
}

router = APIRouter()


def checked_call_id(call_id: str) -> str:
    if not CALL_ID.fullmatch(call_id):
        raise NotFound(call_id)
    return call_id


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


@router.get("/calls/{call_id}")
def call_page(
    request: Request, call_id: str, amend: str = "", submitted: str = "", t: str = "", q: str = ""
):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        view = db.call_view(user, checked_call_id(call_id))
    context = call_context(user, view, amend=amend, submitted=submitted)
    context |= {
        "audio_state": review.redacted_audio(*view["audio"])[1] if view["audio"] else "none",
        "start_at": _seconds(t),
        "query": q.strip()[:200],
    }
    return review.render(request, "call.html", context)


@router.get("/api/calls/{call_id}")
def api_call(request: Request, call_id: str):
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        view = db.call_view(user, checked_call_id(call_id))
    view["call"].pop("has_audio", None)
    view.pop("audio")  # file paths stay on the server
    view["flags"] = call_flags(view["criteria"], view["events"], view["redactions"])
    return view


@router.api_route("/calls/{call_id}/audio", methods=["GET", "HEAD"])
def audio(request: Request, call_id: str):
    """The redacted copy, with Range requests (so the player can seek); HEAD answers the same
    headers without the body."""
    review = review_of(request)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        stored, sha256 = db.audio_file(user, checked_call_id(call_id))
    path, _ = review.redacted_audio(stored, sha256)
    if path is None:
        raise NotFound(call_id)
    media_type = AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(
        path,
        media_type=media_type,
        content_disposition_type="inline",
        filename=f"{call_id}{path.suffix}",
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


def _amends_id(form) -> str | None:
    text = str(form.get("amends_review_id") or "").strip()
    return text if REVIEW_ID.fullmatch(text) else None


@router.post("/calls/{call_id}/draft")
async def save_draft(request: Request, call_id: str):
    """What the reviewer has typed so far (the page sends it as they type): kept per reviewer and
    call until they submit or discard it. 401 once the session is gone: the page keeps the text."""
    review = review_of(request)
    user, _, form = await review.form_post(request)
    try:
        fields = form_fields(form)
    except FormProblem as exc:
        return review.error_page(request, 400, str(exc))

    def work():
        with review.store.open() as db:
            saved_at = db.save_draft(user, checked_call_id(call_id), fields, _amends_id(form))
        return {"saved_at": saved_at.strftime("%H:%M:%S")}

    return await run_in_threadpool(work)


@router.post("/calls/{call_id}/draft/discard")
async def discard_draft(request: Request, call_id: str):
    review = review_of(request)
    user, _, _ = await review.form_post(request)

    def work():
        with review.store.open() as db:
            cid = checked_call_id(call_id)
            db.call_view(user, cid)  # NotFound outside the user's teams
            db.discard_draft(user, cid)
        return RedirectResponse(f"/calls/{cid}", status_code=303)

    return await run_in_threadpool(work)


@router.post("/calls/{call_id}/review")
async def submit(request: Request, call_id: str):
    review = review_of(request)
    user, _, form = await review.form_post(request)
    return await run_in_threadpool(_submit_review, review, request, user, call_id, form)


def _submit_review(review: ReviewApp, request: Request, user: User, call_id: str, form) -> Response:
    """Save the review; when it cannot be saved, the page comes back with the form as it was sent
    and the reason, and what was typed is kept as the draft (nothing typed is ever lost)."""
    call_id = checked_call_id(call_id)
    amends = _amends_id(form)
    with review.store.open() as db:
        view = db.call_view(user, call_id)
        try:
            posted = form_fields(form)
        except FormProblem as exc:  # too long to keep as a draft either: shown, not saved
            problem, status, posted = str(exc), 400, form_fields(form, check=False)
        else:
            try:
                submission = parse_review_form(
                    call_id, form, view["criteria"], view["score"], amends, view["pass_mark"]
                )
                review_id = db.submit_review(user, submission)
            except (FormProblem, ReviewConflict) as exc:
                problem, status = str(exc), 400 if isinstance(exc, FormProblem) else 409
                db.save_draft(user, call_id, posted, amends)
                view["draft"] = db.draft(user, call_id)
            else:
                return RedirectResponse(f"/calls/{call_id}?submitted={review_id}", status_code=303)
    context = call_context(user, view, amend=amends or "", posted=posted, problem=problem)
    context |= {
        "audio_state": review.redacted_audio(*view["audio"])[1] if view["audio"] else "none",
        "start_at": None,
        "query": "",
    }
    return review.render(request, "call.html", context, status_code=status)


def call_context(
    user: User,
    view: dict,
    amend: str = "",
    submitted: str = "",
    posted: dict[str, str] | None = None,
    problem: str = "",
) -> dict:
    """What call.html shows: the view plus the form (if this user may grade or amend now, with
    the draft and then what was just posted laid over it), the flags and the linked reasons."""
    queue, current, draft = view["queue"], view["current_review"], view["draft"]
    may_amend = current is not None and (
        current["reviewer"] == user.username or user.sees_all_teams
    )
    form_mode, amends = None, None
    if amend and may_amend and amend == current["review_id"]:
        form_mode, amends = "amend", current
    elif (
        not amend
        and queue
        and queue["status"] == "in_review"
        and queue["assigned_to"] == user.username
    ):
        form_mode = "grade"
    draft_applies = (
        draft is not None
        and form_mode is not None
        and draft["amends_review_id"] == (amends["review_id"] if amends else None)
    )
    values = form_values(
        view["criteria"], amends, draft["fields"] if draft_applies else {}, posted or {}
    )
    flags = call_flags(view["criteria"], view["events"], view["redactions"])
    reasons = reason_links(queue["reasons"] if queue else None, view["criteria"], flags)
    duration = view["call"]["duration_s"] or max([t["end_s"] for t in view["turns"]] or [1.0])
    return view | {
        "form_mode": form_mode,
        "amends": amends,
        "values": values,
        "draft_applies": draft_applies,
        "draft_elsewhere": draft is not None and not draft_applies and not submitted,
        "problem": problem,
        "submitted": submitted,
        "duration": duration,
        "may_amend": may_amend,
        "flags": flags,
        "flag_kinds": FLAG_KINDS,
        "reasons": reasons,
        "reasons_shown": REASONS_SHOWN,
        "grade_statuses": GRADE_STATUSES,
        "max_comment_chars": MAX_COMMENT_CHARS,
        "max_reason_chars": MAX_REASON_CHARS,
        "audio_messages": AUDIO_MESSAGES,
    }
