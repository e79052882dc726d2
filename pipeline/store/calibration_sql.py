"""SQL for calibration: human grades against auto scores, trust decisions, imports.

Which human grade counts. A reviewer's grade of a call is their latest *submitted* review of it
(an amendment or a re-grade replaces the earlier one). Per call the reviewers are ranked by when
they submitted: the first is the call's *reference* grade, compared with the auto-scorer; the
first two give the human-vs-human ceiling. ``since`` keeps reviews submitted on or after it.

A review's overall score is its ``human_score``; where the grader gave none it is derived from
their criterion grades like the auto score: points (a pass earns the criterion's weight unless
points were given) over the weights of the criteria that applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd

from pipeline.store.connection import transaction

_RANKED_REVIEWS = """
effective AS (
    SELECT review_id, call_id, reviewer, human_score, submitted_at
      FROM reviews
     WHERE submitted_at IS NOT NULL AND ($since IS NULL OR submitted_at >= $since)
   QUALIFY row_number() OVER (PARTITION BY call_id, reviewer
                              ORDER BY submitted_at DESC, review_id DESC) = 1
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY call_id ORDER BY submitted_at, reviewer, review_id)
              AS reviewer_rank
      FROM effective
)"""


TRUST_COLUMNS = ("criterion_id", "trusted", "reason", "n_calls", "kappa", "kappa_low", "kappa_high")


class CalibrationQueries:
    """The calibration queries on one open connection (``Store.calibration``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def _frame(self, sql: str, params: Mapping | list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def rubric_versions(self) -> pd.DataFrame:
        """Every (rubric_id, rubric_version) with scores, with its number of scored calls."""
        return self._frame(
            "SELECT rubric_id, rubric_version, count(*) AS calls FROM call_scores"
            " GROUP BY ALL ORDER BY calls DESC, rubric_id, rubric_version DESC",
        )

    def pick_rubric(
        self, rubric_id: str | None = None, version: int | None = None
    ) -> tuple[str, int] | None:
        """The rubric to calibrate: the one most calls are scored under, at its newest version
        unless ``version`` is given."""
        versions = self.rubric_versions()
        if rubric_id is not None:
            versions = versions[versions.rubric_id == rubric_id]
        if versions.empty:
            return None
        chosen_id = rubric_id or str(versions.groupby("rubric_id").calls.sum().idxmax())
        mine = versions[versions.rubric_id == chosen_id]
        if version is None:
            return chosen_id, int(mine.rubric_version.max())
        if version not in set(mine.rubric_version):
            return None
        return chosen_id, int(version)

    def rubric_source(self, rubric_id: str, version: int) -> dict | None:
        """The stored YAML of a rubric version: ``source_text``, ``source_path``, ``pass_mark``."""
        row = self.con.execute(
            "SELECT source_text, source_path, pass_mark FROM rubrics WHERE rubric_id = ? AND rubric_version = ?",
            [rubric_id, version],
        ).fetchone()
        return None if row is None else dict(zip(("source_text", "source_path", "pass_mark"), row))

    def rubric_criteria(self, rubric_id: str, version: int) -> pd.DataFrame:
        """The criteria of a rubric version as validated when first used, in file order (``rubric_criteria``)."""
        return self._frame(
            "SELECT criterion_id, type, weight, auto_fail, min_similarity, stage_id, description"
            " FROM rubric_criteria WHERE rubric_id = ? AND rubric_version = ? ORDER BY position",
            [rubric_id, version],
        )

    def scored_criteria(self, rubric_id: str, version: int) -> pd.DataFrame:
        """Each criterion scored under the version: its weight and whether it ever auto-failed."""
        return self._frame(
            "SELECT criterion_id, max(max_points) AS weight, bool_or(auto_fail) AS auto_failed,"
            " min(stage) AS stage FROM criterion_scores WHERE rubric_id = ? AND rubric_version = ?"
            " GROUP BY criterion_id ORDER BY min(rowid)",
            [rubric_id, version],
        )

    def criterion_tables(
        self, rubric_id: str, version: int, since: datetime | None = None
    ) -> pd.DataFrame:
        """Counts of (human, auto) verdict pairs per criterion, on each call's reference grade."""
        sql = f"""
            WITH {_RANKED_REVIEWS}
            SELECT g.criterion_id, g.status AS human, cs.status AS auto, count(*) AS n
              FROM ranked r
              JOIN human_grades g ON g.review_id = r.review_id
              JOIN criterion_scores cs
                ON cs.call_id = r.call_id AND cs.criterion_id = g.criterion_id
               AND cs.rubric_id = $rubric_id AND cs.rubric_version = $version
             WHERE r.reviewer_rank = 1
             GROUP BY ALL
        """
        return self._frame(sql, {"since": since, "rubric_id": rubric_id, "version": version})

    def ceiling_tables(self, since: datetime | None = None) -> pd.DataFrame:
        """Counts of (first, second) human verdict pairs per criterion on calls graded twice."""
        sql = f"""
            WITH {_RANKED_REVIEWS}
            SELECT a.criterion_id, a.status AS first, b.status AS second, count(*) AS n
              FROM ranked r1
              JOIN ranked r2 ON r2.call_id = r1.call_id AND r2.reviewer_rank = 2
              JOIN human_grades a ON a.review_id = r1.review_id
              JOIN human_grades b ON b.review_id = r2.review_id AND b.criterion_id = a.criterion_id
             WHERE r1.reviewer_rank = 1
             GROUP BY ALL
        """
        return self._frame(sql, {"since": since})

    def review_scores(
        self, rubric_id: str, version: int, since: datetime | None = None
    ) -> pd.DataFrame:
        """Every counted review of a call scored under the version: reviewer, rank, the review's
        overall score (given or derived from its grades) and the auto score."""
        sql = f"""
            WITH {_RANKED_REVIEWS},
            derived AS (
                SELECT r.review_id,
                       100 * sum(coalesce(g.points, CASE WHEN g.status = 'pass' THEN cs.max_points ELSE 0 END))
                             FILTER (WHERE g.status <> 'na')
                           / nullif(sum(cs.max_points) FILTER (WHERE g.status <> 'na'), 0) AS derived_score
                  FROM ranked r
                  JOIN human_grades g ON g.review_id = r.review_id
                  JOIN criterion_scores cs
                    ON cs.call_id = r.call_id AND cs.criterion_id = g.criterion_id
                   AND cs.rubric_id = $rubric_id AND cs.rubric_version = $version
                 WHERE r.human_score IS NULL
                 GROUP BY r.review_id
            )
            SELECT r.call_id, r.reviewer, r.reviewer_rank,
                   coalesce(r.human_score, d.derived_score) AS human_score, s.score AS auto_score
              FROM ranked r
              JOIN call_scores s
                ON s.call_id = r.call_id AND s.rubric_id = $rubric_id AND s.rubric_version = $version
              LEFT JOIN derived d ON d.review_id = r.review_id
             WHERE coalesce(r.human_score, d.derived_score) IS NOT NULL
             ORDER BY r.call_id, r.reviewer_rank
        """
        return self._frame(sql, {"since": since, "rubric_id": rubric_id, "version": version})

    def queue_frame(
        self,
        rubric_id: str,
        version: int,
        pass_mark: float,
        auto_fail_criteria: Iterable[str],
        since: datetime | None = None,
    ) -> dict[str, np.ndarray]:
        """Every call scored under the version: its day, auto score and auto-fail, and whether its
        reference human grade failed it (-1 not graded, 0 passed, 1 failed: score below the pass
        mark or an auto-fail criterion graded fail)."""
        sql = f"""
            WITH {_RANKED_REVIEWS},
            reference AS (
                SELECT call_id, review_id, human_score FROM ranked WHERE reviewer_rank = 1
            ),
            human AS (
                SELECT f.call_id,
                       coalesce(f.human_score,
                                100 * sum(coalesce(g.points, CASE WHEN g.status = 'pass' THEN cs.max_points ELSE 0 END))
                                      FILTER (WHERE g.status <> 'na')
                                    / nullif(sum(cs.max_points) FILTER (WHERE g.status <> 'na'), 0)) AS score,
                       bool_or(g.status = 'fail' AND list_contains($auto_fail, g.criterion_id)) AS failed_auto_fail
                  FROM reference f
                  JOIN human_grades g ON g.review_id = f.review_id
                  LEFT JOIN criterion_scores cs
                    ON cs.call_id = f.call_id AND cs.criterion_id = g.criterion_id
                   AND cs.rubric_id = $rubric_id AND cs.rubric_version = $version
                 GROUP BY f.call_id, f.human_score
            )
            SELECT coalesce(c.started_at, c.processed_at)::DATE - DATE '1970-01-01' AS day,
                   s.score, s.auto_fail,
                   CASE WHEN h.call_id IS NULL THEN -1
                        WHEN h.failed_auto_fail OR h.score < $pass_mark THEN 1 ELSE 0 END AS human_failed
              FROM call_scores s
              JOIN calls c USING (call_id)
              LEFT JOIN human h USING (call_id)
             WHERE s.rubric_id = $rubric_id AND s.rubric_version = $version
        """
        params = {
            "since": since,
            "rubric_id": rubric_id,
            "version": version,
            "pass_mark": pass_mark,
            "auto_fail": list(auto_fail_criteria),
        }
        columns = self.con.execute(sql, params).fetchnumpy()
        return {
            "day": np.asarray(columns["day"], dtype=np.int64),
            "score": np.asarray(columns["score"], dtype=float),
            "auto_fail": np.asarray(columns["auto_fail"], dtype=bool),
            "human_failed": np.asarray(columns["human_failed"], dtype=np.int8),
        }

    def reference_grades(
        self, rubric_id: str, version: int, since: datetime | None = None
    ) -> pd.DataFrame:
        """The reference human grade and the stored auto verdict of every criterion of every graded
        call scored under the version (call_id, criterion_id, human, auto, weight)."""
        sql = f"""
            WITH {_RANKED_REVIEWS}
            SELECT r.call_id, cs.criterion_id, g.status AS human, cs.status AS auto, cs.max_points AS weight
              FROM ranked r
              JOIN criterion_scores cs
                ON cs.call_id = r.call_id AND cs.rubric_id = $rubric_id AND cs.rubric_version = $version
              LEFT JOIN human_grades g ON g.review_id = r.review_id AND g.criterion_id = cs.criterion_id
             WHERE r.reviewer_rank = 1
             ORDER BY r.call_id, cs.criterion_id
        """
        return self._frame(sql, {"since": since, "rubric_id": rubric_id, "version": version})

    def calls_per_day(self, rubric_id: str, version: int) -> float:
        """Mean number of calls a day among the calls scored under the version."""
        row = self.con.execute(
            "SELECT count(*) / count(DISTINCT coalesce(c.started_at, c.processed_at)::DATE) FROM call_scores s"
            " JOIN calls c USING (call_id) WHERE s.rubric_id = ? AND s.rubric_version = ?",
            [rubric_id, version],
        ).fetchone()
        return float(row[0] or 0.0)

    # --- trust -------------------------------------------------------------------------------------

    def write_trust(self, rubric_id: str, version: int, rows: list[dict]) -> None:
        """Replace the trust decisions of one rubric version, in one transaction."""
        now = self._now()
        with transaction(self.con):
            self.con.execute(
                "DELETE FROM criterion_trust WHERE rubric_id = ? AND rubric_version = ?",
                [rubric_id, version],
            )
            for row in rows:
                self.con.execute(
                    "INSERT INTO criterion_trust (rubric_id, rubric_version, criterion_id, trusted, reason,"
                    " n_calls, kappa, kappa_low, kappa_high, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [rubric_id, version, *(row[c] for c in TRUST_COLUMNS), now],
                )
            self.con.execute(
                'INSERT INTO audit_log ("at", username, action, object, "after") VALUES (?, NULL, ?, ?, ?)',
                [
                    now,
                    "calibrate",
                    f"{rubric_id} v{version}",
                    "not trusted: "
                    + (", ".join(r["criterion_id"] for r in rows if not r["trusted"]) or "none"),
                ],
            )

    def trust_decisions(self, rubric_id: str, version: int) -> dict[str, dict]:
        """criterion_id -> the trust row that applies to this version: its own decisions, or, until
        it has been calibrated, those of the newest earlier version that was (``decided_for`` says
        which)."""
        rows = self.con.execute(
            """
            SELECT criterion_id, trusted, reason, n_calls, kappa, kappa_low, kappa_high, rubric_version
              FROM criterion_trust
             WHERE rubric_id = $rubric_id
               AND rubric_version = (SELECT max(rubric_version) FROM criterion_trust
                                      WHERE rubric_id = $rubric_id AND rubric_version <= $version)
            """,
            {"rubric_id": rubric_id, "version": version},
        ).fetchall()
        return {row[0]: dict(zip((*TRUST_COLUMNS, "decided_for"), row)) for row in rows}

    def untrusted_criteria(self, rubric_id: str, version: int) -> frozenset[str]:
        """The criteria of this rubric version that may not decide a call on their own."""
        return frozenset(
            cid
            for cid, row in self.trust_decisions(rubric_id, version).items()
            if not row["trusted"]
        )

    # --- imports and bulk writes -------------------------------------------------------------------

    def call_index(self) -> pd.DataFrame:
        """call_id and source_path of every stored call (to resolve imported lines)."""
        return self._frame("SELECT call_id, source_path FROM calls")

    def known_criteria(self) -> pd.DataFrame:
        """Every criterion ever scored, with its largest weight (to check imported lines)."""
        return self._frame(
            "SELECT criterion_id, max(max_points) AS weight FROM criterion_scores GROUP BY ALL"
        )

    def stored_rubric_texts(self) -> list[tuple[str, int, str]]:
        return self.con.execute(
            "SELECT rubric_id, rubric_version, source_text FROM rubrics"
        ).fetchall()

    def existing_grades(self, review_ids: list[str]) -> tuple[set[str], set[tuple[str, str]]]:
        """Which of these reviews exist, and which (review_id, criterion_id) grades they hold."""
        if not review_ids:
            return set(), set()
        reviews = {
            row[0]
            for row in self.con.execute(
                "SELECT review_id FROM reviews WHERE list_contains(?, review_id)", [review_ids]
            ).fetchall()
        }
        grades = {
            (row[0], row[1])
            for row in self.con.execute(
                "SELECT review_id, criterion_id FROM human_grades WHERE list_contains(?, review_id)",
                [review_ids],
            ).fetchall()
        }
        return reviews, grades

    def insert_frames(self, frames: Mapping[str, pd.DataFrame]) -> None:
        """Bulk-insert whole tables' worth of rows (columns by name), in one transaction."""
        with transaction(self.con):
            for table, frame in frames.items():
                if frame is None or frame.empty:
                    continue
                self.con.register("incoming_frame", frame)
                try:
                    self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_frame")
                finally:
                    self.con.unregister("incoming_frame")

    def stored_verdicts(self, rubric_id: str, version: int) -> pd.DataFrame:
        """Every auto verdict under a rubric version (call_id, criterion_id, status, max_points)."""
        return self._frame(
            "SELECT call_id, criterion_id, status, max_points FROM criterion_scores"
            " WHERE rubric_id = ? AND rubric_version = ? ORDER BY call_id, rowid",
            [rubric_id, version],
        )

    def record_import(self, file_name: str, summary: str) -> None:
        self.con.execute(
            'INSERT INTO audit_log ("at", username, action, object, "after") VALUES (?, NULL, \'grades_import\', ?, ?)',
            [self._now(), file_name, summary],
        )
