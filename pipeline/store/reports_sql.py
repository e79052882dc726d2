"""SQL for the production report, the agent scorecard, coaching before/after and the calls behind
every figure. Read-only: runs on a read-only connection (``callqa report``) or the app's.

Which call counts where. A call's date is its ``started_at`` (metadata), else when it was
processed; its handle time is its length; its auto score, hold and dead-air seconds, whether the
queue policy queued it and whether the customer was unhappy come from ``call_summary`` (written
with the call and by every rescore: the newest score); its human score is that of its current
review (the newest version of the most recent submitted review: an amendment, e.g. an accepted
dispute, replaces what it amends). Date ranges are whole days, ``date_to`` included. ``scope`` is a
SQL condition on ``calls c`` (team scope) with its parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

PERIODS = ("day", "week")
GROUPS = {
    "team": "c.team",
    "agent": "c.agent_id",
    "queue": "c.queue_name",
    "reason": "r.category_id",
}
NO_GROUP = "(none)"
PRODUCTION_COLUMNS = (
    "period", "group", "calls", "audio_hours", "aht_s", "avg_hold_s", "queued_share", "reviews_done",
    "mean_auto_score", "mean_human_score", "unhappy_share",
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    """A per-call measure the scorecard and coaching compare (mean over calls; a share for 0/1)."""

    id: str
    label: str
    column: str  # in the per-call facts below
    better: str | None  # "lower", "higher" or None (no right direction, e.g. talk ratio)
    unit: str = ""


METRICS = {
    m.id: m
    for m in (
        Metric("auto_score", "Mean auto score", "auto_score", "higher"),
        Metric("human_score", "Mean human score", "human_score", "higher"),
        Metric("handle_time_s", "Handle time", "handle_time_s", "lower", "s"),
        Metric("agent_talk_ratio", "Agent talk ratio", "agent_talk_ratio", None),
        Metric("hold_total_s", "Hold per call", "hold_total_s", "lower", "s"),
        Metric("dead_air_s", "Dead air per call", "dead_air_s", "lower", "s"),
        Metric("agent_interruptions", "Interruptions per call", "agent_interruptions", "lower"),
        Metric("unhappy", "Unhappy-customer share", "unhappy", "lower"),
    )
}
CRITERION_PREFIX = "criterion:"


def _day_after(day: date) -> date:
    return day + timedelta(days=1)


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> duckdb.DuckDBPyConnection:
    """Run with the named parameters the statement uses (DuckDB refuses extra ones)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {name: value for name, value in params.items() if name in used})


_CURRENT_HUMAN_SCORES = """
    SELECT call_id, arg_max(human_score, submitted_at) AS human_score FROM reviews r
     WHERE submitted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM reviews a WHERE a.amends_review_id = r.review_id)
     GROUP BY call_id"""

# One row per done call in range and scope, with everything the scorecard reads.
_FACTS = """
    facts AS MATERIALIZED (
        SELECT c.call_id, c.agent_id, c.team, c.queue_name, coalesce(c.started_at, c.processed_at) AS call_at,
               c.duration_s, c.duration_s AS handle_time_s, f.agent_talk_ratio,
               coalesce(su.hold_total_s, 0.0) AS hold_total_s, coalesce(su.dead_air_s, 0.0) AS dead_air_s,
               f.agent_interruptions, su.auto_score, su.rubric_id, su.rubric_version, h.human_score,
               su.unhappy::INTEGER AS unhappy
          FROM calls c
          LEFT JOIN call_summary su ON su.call_id = c.call_id
          LEFT JOIN features f ON f.call_id = c.call_id
          LEFT JOIN ({human}) h ON h.call_id = c.call_id
         WHERE c.status = 'done' AND coalesce(c.started_at, c.processed_at) >= $date_from
           AND coalesce(c.started_at, c.processed_at) < $date_end AND {scope}
    )"""


def _facts_params(date_from: date, date_to: date, scope_params: list) -> dict:
    params = {"date_from": date_from, "date_end": _day_after(date_to)}
    params.update({f"scope{i}": value for i, value in enumerate(scope_params)})
    return params


def _named_scope(scope: str, scope_params: list) -> str:
    """The scope condition with its ``?`` placeholders as named ones (``$scope0`` ...)."""
    for i in range(len(scope_params)):
        scope = scope.replace("?", f"$scope{i}", 1)
    return scope


# --- the scorecard ---------------------------------------------------------------------------


def _metric_aggregates(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"avg({prefix}{m.column}) AS {m.id}" for m in METRICS.values())


class ReportQueries:
    """The report queries on one open connection (``Store.reports``; ``CoachingDB.reports`` in the app)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def production(
        self,
        by: str,
        group: str,
        date_from: date,
        date_to: date,
        scope: str = "TRUE",
        scope_params: list | None = None,
    ) -> list[dict]:
        """Production figures per period (``day``/``week``, weeks start on Monday) and group.

        Per row: calls, audio hours, mean handle time, mean hold per call, the share of calls that went
        to the review queue, how many of them have a human review, the mean auto and human scores, and
        the share of analysed calls whose customer was unhappy. Grouped by ``reason`` a call counts once
        under each of its call reasons, and under ``(none)`` when it has none.
        """
        if by not in PERIODS:
            raise ValueError(f"--by must be one of {', '.join(PERIODS)}")
        if group not in GROUPS:
            raise ValueError(f"--group must be one of {', '.join(GROUPS)}")
        scope_params = scope_params or []
        reasons = (
            "LEFT JOIN call_categories r ON r.call_id = c.call_id" if group == "reason" else ""
        )
        sql = f"""
            SELECT date_trunc('{by}', coalesce(c.started_at, c.processed_at))::DATE AS period,
                   coalesce({GROUPS[group]}, '{NO_GROUP}') AS "group", count(*) AS calls,
                   sum(c.duration_s) / 3600.0 AS audio_hours,
                   avg(c.duration_s) AS aht_s,
                   avg(coalesce(su.hold_total_s, 0.0)) AS avg_hold_s,
                   avg(coalesce(su.queued, false)::INTEGER) AS queued_share,
                   count(h.human_score) AS reviews_done,
                   avg(su.auto_score) AS mean_auto_score,
                   avg(h.human_score) AS mean_human_score,
                   avg(su.unhappy::INTEGER) AS unhappy_share
              FROM calls c
              {reasons}
              LEFT JOIN call_summary su ON su.call_id = c.call_id
              LEFT JOIN ({_CURRENT_HUMAN_SCORES}) h ON h.call_id = c.call_id
             WHERE c.status = 'done' AND coalesce(c.started_at, c.processed_at) >= $date_from
               AND coalesce(c.started_at, c.processed_at) < $date_end AND {_named_scope(scope, scope_params)}
             GROUP BY ALL
             ORDER BY period, "group"
        """
        return _rows(_execute(self.con, sql, _facts_params(date_from, date_to, scope_params)))

    def export_production(self, rows: list[dict], path: str, file_format: str) -> None:
        """Write production rows as CSV or Parquet with DuckDB's own writer (no pandas, no pyarrow)."""
        if file_format not in ("csv", "parquet"):
            raise ValueError("format must be csv or parquet")
        columns = ", ".join(f'"{c}"' for c in PRODUCTION_COLUMNS)
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)) or None
        self.con.execute(
            'CREATE TEMP TABLE production_export (period DATE, "group" VARCHAR, calls BIGINT, audio_hours DOUBLE,'
            " aht_s DOUBLE, avg_hold_s DOUBLE, queued_share DOUBLE, reviews_done BIGINT, mean_auto_score DOUBLE,"
            " mean_human_score DOUBLE, unhappy_share DOUBLE)"
        )
        try:
            if values:
                self.con.execute(
                    f"INSERT INTO production_export ({columns}) VALUES {values}",
                    [row[c] for row in rows for c in PRODUCTION_COLUMNS],
                )
            options = "(FORMAT csv, HEADER true)" if file_format == "csv" else "(FORMAT parquet)"
            quoted = path.replace("'", "''")
            self.con.execute(f"COPY production_export TO '{quoted}' {options}")
        finally:
            self.con.execute("DROP TABLE production_export")

    def scorecard_figures(
        self,
        agent_id: str,
        team: str | None,
        date_from: date,
        date_to: date,
        scope: str = "TRUE",
        scope_params: list | None = None,
    ) -> dict:
        """The agent's figures beside the team's (all the team's calls) and the team median of agents.

        Returns ``agent``, ``team`` and ``team_median`` (metric id -> value, plus ``calls``,
        ``reviewed``, ``dead_air_total_s`` and ``hold_sum_s``), ``criteria`` (per criterion: the agent's
        and the team's pass counts and rates, N/A left out), ``weeks`` (per week: the agent's value of
        every metric and the team median of agents that week) and ``agents_in_team``.
        """
        scope_params = scope_params or []
        params = _facts_params(date_from, date_to, scope_params) | {"agent": agent_id, "team": team}
        facts = _FACTS.format(
            human=_CURRENT_HUMAN_SCORES,
            scope=_named_scope(scope, scope_params) + " AND c.team IS NOT DISTINCT FROM $team",
        )
        totals = f"count(*) AS calls, count(human_score) AS reviewed, sum(dead_air_s) AS dead_air_total_s, sum(hold_total_s) AS hold_sum_s, {_metric_aggregates()}"
        agent = _rows(
            _execute(
                self.con, f"WITH {facts} SELECT {totals} FROM facts WHERE agent_id = $agent", params
            )
        )[0]
        team_row = _rows(_execute(self.con, f"WITH {facts} SELECT {totals} FROM facts", params))[0]
        per_agent = (
            f"SELECT agent_id, {totals} FROM facts WHERE agent_id IS NOT NULL GROUP BY agent_id"
        )
        medians = ", ".join(
            f"median({m}) AS {m}"
            for m in ("calls", "reviewed", "dead_air_total_s", "hold_sum_s", *METRICS)
        )
        team_median = _rows(
            _execute(
                self.con,
                f"WITH {facts}, per_agent AS ({per_agent}) SELECT {medians}, count(*) AS agents FROM per_agent",
                params,
            )
        )[0]
        criteria = _rows(
            _execute(
                self.con,
                f"""WITH {facts}
                    SELECT cs.criterion_id,
                           count(*) FILTER (WHERE fa.agent_id = $agent AND cs.status = 'pass') AS agent_pass,
                           count(*) FILTER (WHERE fa.agent_id = $agent AND cs.status IN ('pass', 'fail')) AS agent_applied,
                           count(*) FILTER (WHERE cs.status = 'pass') AS team_pass,
                           count(*) FILTER (WHERE cs.status IN ('pass', 'fail')) AS team_applied
                      FROM facts fa JOIN criterion_scores cs
                        ON cs.call_id = fa.call_id AND cs.rubric_id = fa.rubric_id AND cs.rubric_version = fa.rubric_version
                     GROUP BY cs.criterion_id ORDER BY cs.criterion_id""",
                params,
            )
        )
        for row in criteria:
            row["agent_rate"] = (
                row["agent_pass"] / row["agent_applied"] if row["agent_applied"] else None
            )
            row["team_rate"] = (
                row["team_pass"] / row["team_applied"] if row["team_applied"] else None
            )
        weekly = f"SELECT date_trunc('week', call_at)::DATE AS week, agent_id, count(*) AS calls, {_metric_aggregates()} FROM facts WHERE agent_id IS NOT NULL GROUP BY ALL"
        week_medians = ", ".join(f"median({m}) AS team_{m}" for m in METRICS)
        week_values = ", ".join(
            f"any_value({m}) FILTER (WHERE agent_id = $agent) AS {m}" for m in METRICS
        )
        weeks = _rows(
            _execute(
                self.con,
                f"""WITH {facts}, weekly AS ({weekly})
                    SELECT week, coalesce(any_value(calls) FILTER (WHERE agent_id = $agent), 0) AS calls, {week_values},
                           {week_medians}
                      FROM weekly GROUP BY week ORDER BY week""",
                params,
            )
        )
        return {
            "agent": agent,
            "team": team_row,
            "team_median": team_median,
            "criteria": criteria,
            "weeks": weeks,
            "agents_in_team": team_median.pop("agents"),
        }

    def metric_value(
        self,
        agent_id: str,
        metric_id: str,
        date_from: date,
        date_to: date,
    ) -> tuple[float | None, int]:
        """One metric of one agent over whole days ``date_from``..``date_to``: (value, calls behind it).

        A ``criterion:<id>`` metric is the pass rate (N/A left out; calls = the calls it applied to).
        Coaching compares these before and after a session (no team scope: the session is in scope).
        """
        facts = _FACTS.format(human=_CURRENT_HUMAN_SCORES, scope="c.agent_id = $agent")
        params = _facts_params(date_from, date_to, []) | {"agent": agent_id}
        if metric_id.startswith(CRITERION_PREFIX):
            row = _execute(
                self.con,
                f"""WITH {facts}
                    SELECT avg((cs.status = 'pass')::INTEGER), count(*) FROM facts fa JOIN criterion_scores cs
                        ON cs.call_id = fa.call_id AND cs.rubric_id = fa.rubric_id AND cs.rubric_version = fa.rubric_version
                     WHERE cs.criterion_id = $criterion AND cs.status IN ('pass', 'fail')""",
                params | {"criterion": metric_id.removeprefix(CRITERION_PREFIX)},
            ).fetchone()
            return row[0], int(row[1])
        metric = METRICS[metric_id]
        row = _execute(
            self.con,
            f"WITH {facts} SELECT avg({metric.column}), count({metric.column}) FROM facts",
            params,
        ).fetchone()
        return row[0], int(row[1])

    def criterion_ids(self) -> list[str]:
        """Criteria with scores, for the coaching focus choices."""
        return [
            row[0]
            for row in self.con.execute(
                "SELECT DISTINCT criterion_id FROM criterion_scores ORDER BY 1"
            ).fetchall()
        ]

    def calls_behind(
        self,
        date_from: date,
        date_to: date,
        *,
        agent_id: str | None = None,
        team: str | None = None,
        week: date | None = None,
        criterion: str | None = None,
        criterion_status: str | None = None,
        reviewed_only: bool = False,
        unhappy_only: bool = False,
        scope: str = "TRUE",
        scope_params: list | None = None,
        limit: int = 500,
    ) -> list[dict]:
        """The calls a figure was computed from, with every per-call value, newest first."""
        scope_params = scope_params or []
        conditions = [_named_scope(scope, scope_params)]
        params = _facts_params(date_from, date_to, scope_params)
        if agent_id is not None:
            conditions.append("c.agent_id = $agent")
            params["agent"] = agent_id
        if team is not None:
            conditions.append("c.team = $team")
            params["team"] = team
        facts = _FACTS.format(human=_CURRENT_HUMAN_SCORES, scope=" AND ".join(conditions))
        where = ["TRUE"]
        if week is not None:
            where.append("date_trunc('week', call_at)::DATE = $week")
            params["week"] = week
        if reviewed_only:
            where.append("human_score IS NOT NULL")
        if unhappy_only:
            where.append("unhappy = 1")
        select = "fa.*"
        join = ""
        if criterion is not None:
            join = (
                "JOIN criterion_scores cs ON cs.call_id = fa.call_id AND cs.rubric_id = fa.rubric_id"
                " AND cs.rubric_version = fa.rubric_version AND cs.criterion_id = $criterion"
            )
            select = "fa.*, cs.status AS criterion_status, cs.evidence_text AS criterion_evidence"
            params["criterion"] = criterion
            where.append(
                "cs.status IN ('pass', 'fail')"
                if criterion_status is None
                else "cs.status = $cstatus"
            )
            if criterion_status is not None:
                params["cstatus"] = criterion_status
        return _rows(
            _execute(
                self.con,
                f"WITH {facts} SELECT {select} FROM facts fa {join} WHERE {' AND '.join(where)}"
                f" ORDER BY fa.call_at DESC, fa.call_id LIMIT {int(limit)}",
                params,
            )
        )

    def agent_team(
        self,
        agent_id: str,
        scope: str = "TRUE",
        scope_params: list | None = None,
    ) -> tuple[str | None, int]:
        """The team most of the agent's done calls in scope belong to, and how many calls are in scope
        (0: the agent is not in scope, or has no calls)."""
        scope_params = scope_params or []
        row = _execute(
            self.con,
            f"SELECT team, count(*) AS n, sum(count(*)) OVER () AS total FROM calls c"
            f" WHERE agent_id = $agent AND status = 'done' AND {_named_scope(scope, scope_params)}"
            " GROUP BY team ORDER BY n DESC, team NULLS LAST LIMIT 1",
            {"agent": agent_id} | {f"scope{i}": v for i, v in enumerate(scope_params)},
        ).fetchone()
        return (row[0], int(row[2])) if row else (None, 0)

    def coaching_sessions(
        self,
        agent_id: str | None = None,
        teams: list[str] | None = None,
        due_by: date | None = None,
        open_only: bool = False,
    ) -> list[dict]:
        """Coaching sessions, by follow-up date: of one agent, of some teams (None: all), due by a day."""
        where, params = ["TRUE"], {}
        if agent_id is not None:
            where.append("agent_id = $agent")
            params["agent"] = agent_id
        if teams is not None:
            where.append("team IN (SELECT unnest($teams::VARCHAR[]))")
            params["teams"] = list(teams)
        if due_by is not None:
            where.append("follow_up_on <= $due_by")
            params["due_by"] = due_by
        if open_only:
            where.append("closed_at IS NULL")
        return _rows(
            _execute(
                self.con,
                f"SELECT * FROM coaching_sessions WHERE {' AND '.join(where)} ORDER BY follow_up_on, agent_id, held_on",
                params,
            )
        )

    def call_date_range(self) -> tuple[date | None, date | None]:
        """The first and last call day stored (for reports without --from/--to)."""
        row = self.con.execute(
            "SELECT min(coalesce(started_at, processed_at))::DATE, max(coalesce(started_at, processed_at))::DATE"
            " FROM calls WHERE status = 'done'"
        ).fetchone()
        return row[0], row[1]

    def user_scope(self, username: str) -> tuple[str, list] | None:
        """The team scope of an active review-app user (SQL on ``calls c``), or None for no such user."""
        from pipeline.store.review_store import User, _scope_sql

        row = self.con.execute(
            "SELECT role, teams FROM users WHERE username = ? AND NOT disabled", [username]
        ).fetchone()
        return _scope_sql(User(username, row[0], tuple(row[1] or ()))) if row else None

    def busiest_agent(self) -> str | None:
        """The agent with the most done calls (the notebook's default scorecard)."""
        row = self.con.execute(
            "SELECT agent_id FROM calls WHERE agent_id IS NOT NULL AND status = 'done'"
            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        return row[0] if row else None
