"""The review queue (tabs, filters, paging) and transcript search."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from pipeline.review.app import NavLink, review_of
from pipeline.store.review_store import QUEUE_STATUSES, REASON_KINDS, QueueFilters

router = APIRouter()
NAV = (NavLink("Queue", "/queue", order=10), NavLink("Search", "/search", order=20))


def parse_filters(query) -> tuple[QueueFilters, int, list[str]]:
    """Query parameters -> filters, page number and the problems found (bad values are ignored)."""
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
        reason=reason if reason in REASON_KINDS else None,
        agent=(query.get("agent") or "").strip()[:100] or None,
        team=(query.get("team") or "").strip()[:100] or None,
        date_from=as_date("date_from"),
        date_to=as_date("date_to"),
        score_min=as_score("score_min"),
        score_max=as_score("score_max"),
    )
    return filters, page, problems


@router.get("/queue")
def queue(request: Request):
    review = review_of(request)
    filters, page, problems = parse_filters(request.query_params)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        result = db.queue_page(user, filters, page, review.options.page_size)
        choices = db.filter_choices(user)
    args = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return review.render(
        request,
        "queue.html",
        {
            "result": result, "filters": filters, "problems": problems, "choices": choices,
            "reasons": list(REASON_KINDS), "statuses": QUEUE_STATUSES,
            "page_link": lambda n: "/queue?" + urlencode(args | {"page": n}),
            "status_link": lambda s: "/queue?" + urlencode({k: v for k, v in args.items() if k != "status"} | {"status": s}),
        },
    )  # fmt: skip


@router.get("/api/queue")
def api_queue(request: Request):
    review = review_of(request)
    filters, page, problems = parse_filters(request.query_params)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        result = db.queue_page(user, filters, page, review.options.page_size)
    return {
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "rows": result.rows,
        "problems": problems,
    }


@router.get("/search")
def search(request: Request, q: str = ""):
    review = review_of(request)
    text = q.strip()[:200]
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        hits = db.search(user, text) if len(text) >= 2 else []
    return review.render(request, "search.html", {"q": text, "hits": hits})
