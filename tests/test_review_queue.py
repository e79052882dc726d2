"""The queue, second pass (issue 15): sortable columns, the call id shown, filters saved per user,
and search hits that open the call at the matching moment with the words highlighted."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
from pipeline.store.review_store import QUEUE_SORTS, QueueFilters, ReviewStore, User
from tests.review_fixtures import SECRET_KEY, build_review_db, csrf_from, login


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_review_db(tmp_path_factory.mktemp("queue"), extra_pending=12)


@pytest.fixture(scope="module")
def app(fx):
    return create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY, page_size=5))


def client_for(app, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert login(client, username).status_code == 303
    return client


def test_every_sortable_column_sorts_both_ways_across_pages(app):
    lead = client_for(app, "lena")
    keys = {
        "score": "score", "call": "call_id", "agent": "agent_id", "team": "team",
        "date": "call_at", "length": "duration_s", "priority": "priority",
    }  # fmt: skip
    for sort, field in keys.items():
        for direction in ("asc", "desc"):
            rows = []
            for page in (1, 2, 3, 4):
                rows += lead.get(f"/api/queue?sort={sort}&dir={direction}&page={page}").json()[
                    "rows"
                ]
            values = [r[field] for r in rows if r[field] is not None]
            assert values == sorted(values, reverse=direction == "desc"), (sort, direction)
            assert len(rows) == 16  # every call once (fixture: 12 bulk + 4 queued in scope)
            assert len({r["call_id"] for r in rows}) == 16
    html = lead.get("/queue?sort=score&dir=asc").text
    assert 'aria-sort="ascending"' in html and "dir=desc" in html  # clicking again reverses
    assert lead.get("/api/queue?sort=nonsense; DROP TABLE calls").status_code == 200


def test_the_call_id_is_shown_in_the_queue(app, fx):
    html = client_for(app, "sue").get("/queue").text
    assert f"<code>{fx.calls['flagged']}</code>" in html


def test_saved_filters_are_per_user(app):
    sue, bob = client_for(app, "sue"), client_for(app, "bob")
    csrf = csrf_from(sue.get("/queue").text)
    query = "status=pending&reason=below+pass+mark&agent=a104&sort=score&dir=desc&page=3&junk=1"
    saved = sue.post(
        "/queue/filters", data={"csrf_token": csrf, "name": "Low a104", "query": query}
    )
    assert saved.status_code == 303
    target = saved.headers["location"]
    assert parse_qs(urlsplit(target).query) == {
        "status": ["pending"], "reason": ["below pass mark"], "agent": ["a104"],
        "sort": ["score"], "dir": ["desc"],
    }  # fmt: skip
    page = sue.get("/queue").text
    link = re.search(r'<a href="(/queue\?[^"]+)">Low a104</a>', page)
    assert link, "the saved filter is listed"
    rows = sue.get(link.group(1).replace("&amp;", "&").replace("/queue", "/api/queue")).json()
    assert [r["agent_id"] for r in rows["rows"]] == ["a104"]
    assert "Low a104" not in bob.get("/queue").text  # not bob's
    # the same name again replaces it; deleting removes it
    sue.post(
        "/queue/filters", data={"csrf_token": csrf, "name": "Low a104", "query": "status=done"}
    )
    assert sue.get("/queue").text.count(">Low a104</a>") == 1
    assert 'href="/queue?status=done">Low a104' in sue.get("/queue").text
    sue.post("/queue/filters/delete", data={"csrf_token": csrf, "name": "Low a104"})
    assert "Low a104" not in sue.get("/queue").text
    nameless = sue.post("/queue/filters", data={"csrf_token": csrf, "name": " ", "query": ""})
    assert nameless.status_code == 400


def test_a_search_hit_opens_the_call_at_the_moment_with_the_words_marked(app, fx):
    sue = client_for(app, "sue")
    results = sue.get("/search?q=CARD number").text
    hit = re.search(rf'href="(/calls/{fx.calls["flagged"]}\?t=([0-9.]+)&amp;q=([^"]+))"', results)
    assert hit, "the hit links to the call at a time"
    assert float(hit.group(2)) == 10.0  # the turn that says it
    assert "<mark>card number</mark>" in results
    page = sue.get(hit.group(1).replace("&amp;", "&")).text
    assert 'data-start-at="10.0"' in page
    line = re.search(
        r'<li class="turn speaker-agent hit"[^>]*data-start="10.0".*?</li>', page, re.DOTALL
    )
    assert line and "<mark>card number</mark>" in line.group(0)
    assert page.count("<mark>") == 1
    # the query is text, never markup
    page = sue.get(f"/calls/{fx.calls['flagged']}?t=1&q=<b>x</b>").text
    assert "<b>x</b>" not in page


# --- pages of a large queue: found by counting, the same rows as one sort of the whole queue ----

TIED_PAGE_SIZE = 7
LEAD = User("lena", "qa_lead")


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """The review fixture with its queue listing's values drawn from a few each, NULLs among them,
    so that many rows tie on every sort column but the call id (and lengths differ within a
    second, the coarser value the page counts them by)."""
    fx = build_review_db(tmp_path_factory.mktemp("tied"), extra_pending=60)
    fx.query(
        """UPDATE queue_listing SET
               status = CASE WHEN hash(call_id || 'st') % 3 = 0 THEN 'done' ELSE status END,
               priority = 1 + (hash(call_id || 'p') % 2)::BIGINT,
               score = [NULL, 50.0, 70.0][1 + (hash(call_id || 's') % 3)::BIGINT],
               agent_id = [NULL, 'a1', 'a2'][1 + (hash(call_id || 'a') % 3)::BIGINT],
               duration_s = [NULL, 60.0, 60.25, 61.5][1 + (hash(call_id || 'd') % 4)::BIGINT],
               started_at = [NULL, TIMESTAMP '2026-11-02 09:00', TIMESTAMP '2026-11-03 09:00']
                            [1 + (hash(call_id || 't') % 3)::BIGINT],
               processed_at = [NULL, TIMESTAMP '2026-11-02 17:30', TIMESTAMP '2026-11-04 10:00']
                              [1 + (hash(call_id || 'r') % 3)::BIGINT]"""
    )
    return fx


def sorted_like_the_queue(rows: list[dict], column: str, descending: bool) -> list[str]:
    """The queue's order (review_store.queue_order) in plain Python: stable sorts, last key first."""
    keys = [(column, descending, False), ("priority", False, False), ("score", False, True)]
    keys += [("call_at", True, False), ("call_id", False, False)]
    for name, reverse, nulls_first in reversed(keys):
        present = sorted(
            (r for r in rows if r[name] is not None), key=lambda r: r[name], reverse=reverse
        )
        absent = [r for r in rows if r[name] is None]
        rows = absent + present if nulls_first else present + absent
    return [r["call_id"] for r in rows]


def all_pages(review_db, filters: QueueFilters) -> tuple[list[str], int]:
    """Every page's call ids in turn (and the total), up to the first empty page past the end."""
    ids, page = [], 1
    while True:
        result = review_db.queue_page(LEAD, filters, page, TIED_PAGE_SIZE)
        if not result.rows:
            return ids, result.total
        assert len(result.rows) == TIED_PAGE_SIZE or page == result.pages
        ids += [row["call_id"] for row in result.rows]
        page += 1


@pytest.mark.parametrize("status", ["pending", "done"])
def test_every_page_of_every_sort_is_its_slice_of_the_whole_queue_in_order(tied, status):
    listed = tied.query(
        "SELECT call_id, priority, score, agent_id, team, duration_s, status,"
        " coalesce(started_at, processed_at) AS call_at FROM queue_listing WHERE has_call AND status = ?",
        [status],
    )
    names = ("call_id", "priority", "score", "agent_id", "team", "duration_s", "status", "call_at")
    rows = [dict(zip(names, row)) for row in listed]
    assert len(rows) > 2 * TIED_PAGE_SIZE
    with ReviewStore(str(tied.db)).open() as review_db:
        for sort, column in QUEUE_SORTS.items():
            if column == "human_score" and status == "done":
                continue  # the human verdict: not in the listing (the done tab's own test)
            for descending in (False, True):
                expected = sorted_like_the_queue(
                    [r | {"human_score": None} for r in rows], column, descending
                )
                filters = QueueFilters(status=status, sort=sort, descending=descending)
                assert all_pages(review_db, filters) == (expected, len(expected)), (
                    sort,
                    descending,
                )
        # a filter, and a page far past the end
        team = max({r["team"] for r in rows} - {None})
        expected = sorted_like_the_queue([r for r in rows if r["team"] == team], "score", True)
        filters = QueueFilters(status=status, team=team, sort="score", descending=True)
        assert all_pages(review_db, filters) == (expected, len(expected))
        past = review_db.queue_page(LEAD, QueueFilters(status=status), 10_000, TIED_PAGE_SIZE)
        assert (past.rows, past.total) == ([], len(rows))
