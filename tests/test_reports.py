"""Production report, agent scorecard, coaching before/after and the follow-up list on the synthetic
month (tests/synthetic_month.py): every figure is recomputed here from what the generator planted
(or, for auto scores and criterion verdicts, from the stored per-call rows with pandas), never
with the report SQL."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from pipeline.reports import build_scorecard, coaching_windows, follow_up_list, movement
from pipeline.store.coaching_store import CoachingDB, SessionInput
from pipeline.store.reports_sql import ReportQueries
from pipeline.store.review_store import ReviewStore, User
from tests.synthetic_month import AS_OF, COACHING_DAY, FOLLOW_UP_DAY, MONTH_START, WEEKS

MONTH_END = MONTH_START + timedelta(days=WEEKS * 7 - 1)
LEAD = User("lena", "qa_lead")


@pytest.fixture(scope="module")
def month(synthetic_month, tmp_path_factory):
    """The month with three coaching sessions: a2 (interruptions; due), a3 (hold; upcoming), a1 (closed)."""
    db = tmp_path_factory.mktemp("reports") / "month.duckdb"
    shutil.copy(synthetic_month.db, db)
    store = ReviewStore(str(db))
    store.ensure_schema()
    with store.open() as review_db:
        coaching = CoachingDB(review_db)
        sessions = {
            "a2": coaching.add_session(LEAD, SessionInput("a2", COACHING_DAY, ("agent_interruptions", "criterion:interruptions"),
                                                          "Let customers finish before answering", FOLLOW_UP_DAY)),
            "a3": coaching.add_session(LEAD, SessionInput("a3", date(2026, 3, 23), ("hold_total_s",), "Shorter holds",
                                                          date(2026, 4, 6))),
            "a1": coaching.add_session(LEAD, SessionInput("a1", date(2026, 3, 9), ("handle_time_s",), "Keep it brief",
                                                          date(2026, 3, 20))),
        }  # fmt: skip
        coaching.close_session(LEAD, sessions["a1"], "met", "handled")
    return replace(synthetic_month, db=db, coaching_session_ids=sessions)


@pytest.fixture(scope="module")
def plan(month) -> pd.DataFrame:
    """One row per planned call, plus the stored auto score (the scorer's own output)."""
    frame = pd.DataFrame([vars(c) for c in month.calls])
    with duckdb.connect(str(month.db), read_only=True) as con:
        scores = dict(con.execute("SELECT call_id, score FROM call_scores").fetchall())
        queued = {r[0] for r in con.execute("SELECT call_id FROM review_queue").fetchall()}
        reasons = con.execute("SELECT call_id, category_id FROM call_categories").fetchall()
    frame["auto_score"] = frame.call_id.map(scores)
    frame["queued"] = frame.call_id.isin(queued)
    frame["day"] = pd.to_datetime(frame.started_at).dt.date
    frame["week"] = frame.day.map(lambda d: d - timedelta(days=d.weekday()))
    frame.attrs["reasons"] = reasons
    return frame


def test_the_month_plants_what_the_tests_expect(plan):
    # the queue: every escalated or unhappy call, and nothing else (random sample off, every call passes)
    assert (plan.queued == plan.unhappy).all()
    assert (plan.auto_score >= 80).all()
    assert plan.groupby("agent_id").interruptions.max().to_dict() == {
        "a1": 0,
        "a2": 2,
        "a3": 0,
        "a4": 0,
        "a5": 0,
    }


def expected_production(plan: pd.DataFrame, by: str, group: str) -> dict:
    frame = plan.copy()
    frame["period"] = frame.day if by == "day" else frame.week
    if group == "reason":
        reasons = pd.DataFrame(plan.attrs["reasons"], columns=["call_id", "group"])
        frame = frame.merge(reasons, on="call_id", how="left").fillna({"group": "(none)"})
    else:
        frame["group"] = frame[{"team": "team", "agent": "agent_id", "queue": "queue"}[group]]
    out = {}
    for (period, name), rows in frame.groupby(["period", "group"]):
        reviewed = rows.human_score.dropna()
        out[(period, name)] = {
            "calls": len(rows),
            "audio_hours": rows.duration_s.sum() / 3600,
            "aht_s": rows.duration_s.mean(),
            "avg_hold_s": rows.hold_s.mean(),
            "queued_share": rows.queued.mean(),
            "reviews_done": len(reviewed),
            "mean_auto_score": rows.auto_score.mean(),
            "mean_human_score": reviewed.mean() if len(reviewed) else None,
            "unhappy_share": rows.unhappy.mean(),
        }
    return out


@pytest.mark.parametrize("by", ["day", "week"])
@pytest.mark.parametrize("group", ["team", "agent", "queue", "reason"])
def test_production_figures_equal_the_plan(month, plan, by, group):
    with duckdb.connect(str(month.db), read_only=True) as con:
        rows = ReportQueries(con).production(by, group, MONTH_START, MONTH_END)
    expected = expected_production(plan, by, group)
    assert {(r["period"], r["group"]) for r in rows} == set(expected)
    for row in rows:
        want = expected[(row["period"], row["group"])]
        for column, value in want.items():
            assert row[column] == pytest.approx(value, abs=1e-9), (
                row["period"],
                row["group"],
                column,
            )


def test_production_date_range_and_team_scope(month, plan):
    with duckdb.connect(str(month.db), read_only=True) as con:
        rows = ReportQueries(con).production("week", "agent", date(2026, 3, 9), date(2026, 3, 15),
                                      "c.team IN (SELECT unnest(?::VARCHAR[]))", [["support"]])  # fmt: skip
    week = plan[(plan.week == date(2026, 3, 9)) & (plan.team == "support")]
    assert {r["group"]: r["calls"] for r in rows} == week.groupby("agent_id").size().to_dict()


def per_agent(plan: pd.DataFrame) -> pd.DataFrame:
    return plan.groupby("agent_id").agg(
        calls=("call_id", "size"),
        reviewed=("human_score", "count"),
        handle_time_s=("duration_s", "mean"),
        hold_total_s=("hold_s", "mean"),
        dead_air_s=("dead_air_s", "mean"),
        agent_interruptions=("interruptions", "mean"),
        unhappy=("unhappy", "mean"),
        auto_score=("auto_score", "mean"),
        human_score=("human_score", "mean"),
        dead_air_total_s=("dead_air_s", "sum"),
        hold_sum_s=("hold_s", "sum"),
    )


def test_scorecard_figures_equal_the_plan(month, plan):
    with duckdb.connect(str(month.db), read_only=True) as con:
        card = build_scorecard(ReportQueries(con), "a2", MONTH_START, MONTH_END, AS_OF)
        verdicts = con.execute(
            "SELECT cs.call_id, cs.criterion_id, cs.status FROM criterion_scores cs"
        ).df()
    billing = plan[plan.team == "billing"]
    agents = per_agent(billing)
    assert card["team_name"] == "billing" and card["agents_in_team"] == 3
    for column, value in agents.loc["a2"].items():
        assert card["agent"][column] == pytest.approx(value), column
    team = per_agent(billing.assign(agent_id="team")).loc["team"]
    for column, value in team.items():
        assert card["team"][column] == pytest.approx(value), column
    for column, values in agents.items():
        assert card["team_median"][column] == pytest.approx(values.median()), column
    # pass rate per criterion against the team, N/A left out
    verdicts = verdicts.merge(billing[["call_id", "agent_id"]], on="call_id")
    applied = verdicts[verdicts.status != "na"]
    for row in card["criteria"]:
        mine = applied[(applied.agent_id == "a2") & (applied.criterion_id == row["criterion_id"])]
        theirs = applied[applied.criterion_id == row["criterion_id"]]
        assert row["agent_rate"] == pytest.approx(
            (mine.status == "pass").mean() if len(mine) else None
        )
        assert row["team_rate"] == pytest.approx(
            (theirs.status == "pass").mean() if len(theirs) else None
        )
    assert {r["criterion_id"]: r["agent_rate"] for r in card["criteria"]}[
        "interruptions"
    ] == pytest.approx(0.5)
    # the weekly trend with the team median: a2 interrupts twice a call from the coaching day on
    weeks = {w["week"]: w for w in card["weeks"]}
    assert [weeks[w]["agent_interruptions"] for w in sorted(weeks)] == [0, 0, 2, 2]
    for week, rows in billing.groupby("week"):
        medians = rows.groupby("agent_id").duration_s.mean().median()
        assert weeks[week]["team_handle_time_s"] == pytest.approx(medians)
        assert weeks[week]["team_agent_interruptions"] == pytest.approx(
            rows.groupby("agent_id").interruptions.mean().median()
        )


def test_an_agent_who_interrupts_more_after_coaching_shows_the_change(month, plan):
    with duckdb.connect(str(month.db), read_only=True) as con:
        card = build_scorecard(ReportQueries(con), "a2", MONTH_START, MONTH_END, AS_OF)
    (session,) = card["coaching"]
    windows = session["windows"]
    assert (windows.before_from, windows.before_to, windows.after_from, windows.after_to) == (
        date(2026, 3, 4), date(2026, 3, 15), COACHING_DAY, FOLLOW_UP_DAY,
    )  # fmt: skip
    mine = plan[plan.agent_id == "a2"]
    before = mine[(mine.day >= windows.before_from) & (mine.day <= windows.before_to)]
    after = mine[(mine.day >= windows.after_from) & (mine.day <= windows.after_to)]
    progress = {p["metric"]: p for p in session["progress"]}
    interruptions = progress["agent_interruptions"]
    assert (interruptions["before"], interruptions["calls_before"]) == (
        before.interruptions.mean(),
        len(before),
    )
    assert (interruptions["after"], interruptions["calls_after"]) == (
        after.interruptions.mean(),
        len(after),
    )
    assert (interruptions["before"], interruptions["after"], interruptions["moved"]) == (
        0.0,
        2.0,
        "worse",
    )
    assert (
        progress["criterion:interruptions"]["before"],
        progress["criterion:interruptions"]["after"],
    ) == (1.0, 0.0)
    assert progress["criterion:interruptions"]["moved"] == "worse"


def test_follow_up_list(month, plan):
    with duckdb.connect(str(month.db), read_only=True) as con:
        rows = follow_up_list(ReportQueries(con), ReportQueries(con).coaching_sessions(), AS_OF)
        supervisor = follow_up_list(
            ReportQueries(con), ReportQueries(con).coaching_sessions(teams=["support"]), AS_OF
        )
    # a2 is due (27 March) and got worse; a3 is not due until 6 April; a1's follow-up is closed
    assert [(r["agent_id"], r["due"]) for r in rows] == [("a2", True), ("a3", False)]
    a3 = rows[1]["progress"][0]
    assert (a3["metric"], a3["before"], a3["after"], a3["moved"]) == (
        "hold_total_s",
        75.0,
        75.0,
        "no change",
    )
    assert [p["moved"] for p in rows[0]["progress"]] == ["worse", "worse"]
    assert supervisor == []


def test_coaching_windows_and_movement():
    windows = coaching_windows(date(2026, 3, 16), date(2026, 3, 27), date(2026, 3, 20))
    assert (windows.before_from, windows.before_to, windows.after_to, windows.days) == (
        date(2026, 3, 11), date(2026, 3, 15), date(2026, 3, 20), 5,
    )  # fmt: skip
    assert movement(2.0, 1.0, "lower") == "improved" and movement(1.0, 2.0, "lower") == "worse"
    assert (
        movement(0.5, 0.9, "higher") == "improved" and movement(0.6, 0.6, "higher") == "no change"
    )
    assert movement(0.4, 0.6, None) == "changed" and movement(None, 1.0, "lower") == "no calls"


def cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
    )


def test_cli_production_report_exports_csv_parquet_and_html(month, plan, tmp_path):
    expected = expected_production(plan, "week", "team")
    args = ("report", "production", "--by", "week", "--group", "team", "--from", MONTH_START, "--to", MONTH_END,
            "--db", month.db)  # fmt: skip
    printed = cli(*args)
    assert printed.returncode == 0, printed.stderr
    assert "billing" in printed.stdout and "support" in printed.stdout
    for suffix in ("csv", "parquet", "html"):
        out = tmp_path / f"production.{suffix}"
        result = cli(*args, "--out", out)
        assert result.returncode == 0, result.stderr
        assert out.exists()
    with (tmp_path / "production.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(expected)
    for row in rows:
        want = expected[(date.fromisoformat(row["period"]), row["group"])]
        assert int(row["calls"]) == want["calls"]
        assert float(row["aht_s"]) == pytest.approx(want["aht_s"])
        assert float(row["unhappy_share"]) == pytest.approx(want["unhappy_share"])
    parquet = duckdb.sql(
        f"SELECT sum(calls), sum(reviews_done) FROM '{tmp_path / 'production.parquet'}'"
    ).fetchall()[0]
    assert parquet == (len(plan), plan.human_score.count())
    html = (tmp_path / "production.html").read_text()
    assert html.count('<img class="chart" src="data:image/svg+xml;base64,') == 4
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert "<script" not in html


def test_cli_agent_scorecard(month):
    result = cli(
        "report",
        "agent",
        "a2",
        "--from",
        MONTH_START,
        "--to",
        MONTH_END,
        "--as-of",
        AS_OF,
        "--db",
        month.db,
    )
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "a2" in out and "billing" in out and "Interruptions per call" in out
    assert "Let customers finish before answering" in out and "worse" in out
    missing = cli("report", "agent", "nobody", "--db", month.db)
    assert missing.returncode == 2 and "no calls" in missing.stderr


def test_cli_refuses_bad_report_options(month):
    result = cli("report", "production", "--by", "month", "--db", month.db)
    assert result.returncode == 2 and "--by" in result.stderr


def test_a_database_from_before_call_summary_gets_it_filled_on_open(tmp_path):
    from pipeline.store.store import Store
    from tests.review_fixtures import build_review_db

    fx = build_review_db(tmp_path)
    columns = "call_id, hold_total_s, dead_air_s, auto_score, rubric_id, rubric_version, queued"
    with duckdb.connect(str(fx.db)) as con:
        written = con.execute(f"SELECT {columns} FROM call_summary ORDER BY call_id").fetchall()
        con.execute("DELETE FROM call_summary")
    with Store(fx.db):
        pass
    with duckdb.connect(str(fx.db)) as con:
        filled = con.execute(f"SELECT {columns} FROM call_summary ORDER BY call_id").fetchall()
    assert filled == written and len(filled) == len(fx.calls)
    assert {row[0]: row[6] for row in filled}[fx.calls["not_queued"]] is False
