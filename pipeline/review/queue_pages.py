"""The review queue (tabs, filters, paging) and transcript search."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from pipeline.review.coaching import STAFF  # agents have their own pages (/my)
from pipeline.review.app import BadInput, NavLink, review_of
from pipeline.store.review_store import QUEUE_SORTS, QUEUE_STATUSES, REASON_FILTERS, QueueFilters

# the query parameters a saved filter keeps (the page number is not one of them)
FILTER_KEYS = (
    "status", "reason", "agent", "team", "date_from", "date_to", "score_min", "score_max", "sort", "dir",
)  # fmt: skip
MAX_FILTER_NAME_CHARS = 60

router = APIRouter()
NAV = (NavLink("Queue", "/queue", roles=STAFF, order=10), NavLink("Search", "/search", roles=STAFF, order=20))


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
    sort = query.get("sort") or "priority"
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
        sort=sort if sort in QUEUE_SORTS else "priority",
        descending=query.get("dir") == "desc",
    )
    return filters, page, problems


def filters_query(query) -> str:
    """The filter part of a queue query string, in a fixed order (what a saved filter keeps)."""
    return urlencode([(k, query.get(k)) for k in FILTER_KEYS if query.get(k)])


@router.get("/queue")
def queue(request: Request):
    review = review_of(request)
    filters, page, problems = parse_filters(request.query_params)
    with review.store.open() as db:
        user, _ = review.authenticate(request, db)
        result = db.queue_page(user, filters, page, review.options.page_size)
        choices = db.filter_choices(user)
        saved = db.saved_filters(user)
    args = {k: v for k, v in request.query_params.items() if k != "page" and v}

    def sort_link(column: str) -> str:
        descending = filters.sort == column and not filters.descending
        return "/queue?" + urlencode(
            args | {"sort": column, "dir": "desc" if descending else "asc"}
        )

    return review.render(
        request,
        "queue.html",
        {
            "result": result, "filters": filters, "problems": problems, "choices": choices,
            "reasons": list(REASON_FILTERS), "statuses": QUEUE_STATUSES, "saved": saved,
            "current_query": filters_query(request.query_params),
            "max_filter_name_chars": MAX_FILTER_NAME_CHARS,
            "page_link": lambda n: "/queue?" + urlencode(args | {"page": n}),
            "status_link": lambda s: "/queue?" + urlencode({k: v for k, v in args.items() if k != "status"} | {"status": s}),
            "sort_link": sort_link,
        },
    )  # fmt: skip


@router.post("/queue/filters")
async def save_filter(request: Request):
    """Save the queue's current filters under a name (one's own list; a name used again is replaced)."""
    review = review_of(request)
    user, _, form = await review.form_post(request)
    name = str(form.get("name") or "").strip()
    query = filters_query(parse_qs_form(str(form.get("query") or "")))
    if not name or len(name) > MAX_FILTER_NAME_CHARS:
        raise BadInput(f"a saved filter needs a name of 1 to {MAX_FILTER_NAME_CHARS} characters")

    def work():
        with review.store.open() as db:
            db.save_filter(user, name, query)
        return RedirectResponse("/queue?" + query, status_code=303)

    return await run_in_threadpool(work)


@router.post("/queue/filters/delete")
async def delete_filter(request: Request):
    review = review_of(request)
    user, _, form = await review.form_post(request)
    name = str(form.get("name") or "").strip()[:MAX_FILTER_NAME_CHARS]

    def work():
        with review.store.open() as db:
            db.delete_filter(user, name)
        return RedirectResponse("/queue", status_code=303)

    return await run_in_threadpool(work)


def parse_qs_form(text: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(text[:2000]).items()}


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
