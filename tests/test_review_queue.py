"""The queue, second pass (issue 15): sortable columns, the call id shown, filters saved per user,
and search hits that open the call at the matching moment with the words highlighted."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
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
