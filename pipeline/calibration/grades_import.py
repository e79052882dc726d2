"""Import human grades made in another tool, from a CSV file with one criterion grade per line.

Columns (header names are case-insensitive; common aliases accepted):

``call_id`` or ``file``  the call: its id, or the recording's file name (no folder needed)
``reviewer``             who graded it
``criterion``            the criterion id, as in the rubric
``result``               ``pass``, ``fail``, ``na`` — or points (0 to the criterion's weight;
                         full points is a pass, fewer a fail)
``score``                optional: the reviewer's overall score for the call (0-100)
``graded_at``            optional: when it was graded (ISO date or date-time)
``comment``              optional

Lines of one (call, reviewer) become one review (``source = 'import'``) whose id is derived from
the file's name, the call and the reviewer, so importing the same file again adds nothing twice
(and importing it after fixing its bad lines adds just those). Every bad line is reported with
its line number and reason; the good lines are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.store.calibration_sql import CalibrationQueries
from pipeline.calibration.stats import FAIL, NA, PASS

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "call", "callid"),
    "file": ("file", "file_name", "filename", "recording", "recording_file", "source_path", "path"),
    "reviewer": ("reviewer", "grader", "evaluator", "reviewed_by"),
    "criterion": ("criterion", "criterion_id", "criteria"),
    "result": ("result", "status", "grade", "points"),
    "score": ("score", "overall", "overall_score", "human_score", "total"),
    "graded_at": ("graded_at", "submitted_at", "date", "graded_on", "timestamp"),
    "comment": ("comment", "comments", "note", "notes"),
}
_STATUS_WORDS = {"pass": PASS, "passed": PASS, "fail": FAIL, "failed": FAIL, "na": NA, "n/a": NA}


class GradesFileError(ValueError):
    """A file that cannot be imported at all (unreadable, or a required column missing)."""


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class GradeLine:
    line: int
    call_id: str
    reviewer: str
    criterion_id: str
    status: str
    points: float | None
    score: float | None
    graded_at: datetime | None
    comment: str | None


@dataclass
class ImportResult:
    file: str
    lines: int = 0
    reviews_added: int = 0
    grades_added: int = 0
    already_imported: int = 0
    bad: list[BadLine] = field(default_factory=list)


def _normal(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _columns(header: list[str]) -> dict[str, str]:
    """Our column name -> the file's header name."""
    found: dict[str, str] = {}
    for name in header:
        for ours, aliases in COLUMN_ALIASES.items():
            if _normal(name) in aliases and ours not in found:
                found[ours] = name
    return found


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def review_id_for(file_name: str, call_id: str, reviewer: str) -> str:
    """One review per (call, reviewer, file): the same file imported twice maps to the same id."""
    digest = hashlib.sha256(f"{file_name}\x1f{call_id}\x1f{reviewer}".encode()).hexdigest()
    return f"import-{digest[:20]}"


def parse_grades(
    text: str, calls: pd.DataFrame, criterion_weights: dict[str, float]
) -> tuple[list[GradeLine], list[BadLine]]:
    """Check every line against the stored calls and criteria; pure (no database)."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    columns = _columns(header)
    missing = [c for c in ("reviewer", "criterion", "result") if c not in columns]
    if "call_id" not in columns and "file" not in columns:
        missing.insert(0, "call_id or file")
    if missing:
        raise GradesFileError(
            f"line 1: missing column(s) {', '.join(missing)}; the header has {', '.join(header) or 'nothing'}"
        )
    ids = set(calls.call_id)
    by_name: dict[str, list[str]] = {}
    for call_id, source_path in zip(calls.call_id, calls.source_path):
        by_name.setdefault(Path(str(source_path)).name, []).append(call_id)
    good: list[GradeLine] = []
    bad: list[BadLine] = []
    seen: dict[tuple[str, str, str], int] = {}
    scores: dict[tuple[str, str], tuple[float, int]] = {}
    for row in reader:
        line = reader.line_num

        def value(column: str, row: dict = row) -> str:
            name = columns.get(column)
            return (row.get(name) or "").strip() if name else ""

        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # an empty line
        problems: list[str] = []
        call_id = value("call_id")
        file_name = value("file")
        if call_id:
            if call_id not in ids:
                problems.append(f"no call with id {call_id!r} in the database")
        elif file_name:
            matches = by_name.get(Path(file_name).name, [])
            if len(matches) == 1:
                call_id = matches[0]
            elif not matches:
                problems.append(f"no call recorded from a file named {Path(file_name).name!r}")
            else:
                problems.append(
                    f"file name {Path(file_name).name!r} matches {len(matches)} calls; give the call id"
                )
        else:
            problems.append("no call id or file name")
        reviewer = value("reviewer")
        if not reviewer:
            problems.append("no reviewer")
        criterion_id = value("criterion")
        if not criterion_id:
            problems.append("no criterion")
        elif criterion_id not in criterion_weights:
            known = ", ".join(sorted(criterion_weights)) or "none scored yet"
            problems.append(f"unknown criterion {criterion_id!r} (known: {known})")
        result = value("result")
        status, points = _STATUS_WORDS.get(result.lower()), None
        if status is None:
            points = _number(result)
            weight = criterion_weights.get(criterion_id)
            if points is None:
                problems.append(f"result {result!r} is not pass, fail, na or points")
            elif weight is not None and not 0 <= points <= weight:
                problems.append(f"{points:g} points is outside 0-{weight:g} for {criterion_id}")
            elif weight is not None:
                status = PASS if points >= weight else FAIL
        score_text = value("score")
        score = _number(score_text) if score_text else None
        if score_text and (score is None or not 0 <= score <= 100):
            problems.append(f"overall score {score_text!r} is not a number from 0 to 100")
        graded_text = value("graded_at")
        graded_at = None
        if graded_text:
            try:
                graded_at = datetime.fromisoformat(graded_text)
            except ValueError:
                problems.append(f"graded_at {graded_text!r} is not an ISO date or date-time")
            else:
                if graded_at.tzinfo is not None:
                    graded_at = graded_at.astimezone(UTC).replace(tzinfo=None)
        if not problems:
            key = (call_id, reviewer, criterion_id)
            if key in seen:
                problems.append(
                    f"{criterion_id} for this call by {reviewer} is already on line {seen[key]}"
                )
            elif score is not None and (call_id, reviewer) in scores:
                earlier, earlier_line = scores[(call_id, reviewer)]
                if earlier != score:
                    problems.append(
                        f"overall score {score:g} differs from {earlier:g} on line {earlier_line}"
                    )
        if problems:
            bad.append(BadLine(line, "; ".join(problems)))
            continue
        seen[(call_id, reviewer, criterion_id)] = line
        if score is not None:
            scores.setdefault((call_id, reviewer), (score, line))
        good.append(
            GradeLine(
                line,
                call_id,
                reviewer,
                criterion_id,
                status,
                points,
                score,
                graded_at,
                value("comment") or None,
            )
        )
    return good, bad


def import_grades(queries: CalibrationQueries, path: str | Path) -> ImportResult:
    """Import a grades CSV into ``reviews`` + ``human_grades``; bad lines are reported, not fatal."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GradesFileError(f"cannot read {path}: {exc}") from exc
    weights = queries.known_criteria()
    good, bad = parse_grades(
        text, queries.call_index(), dict(zip(weights.criterion_id, weights.weight))
    )
    result = ImportResult(file=str(path), lines=len(good) + len(bad), bad=bad)
    now = datetime.now(UTC).replace(tzinfo=None)
    reviews: dict[str, dict] = {}
    for grade in good:
        review_id = review_id_for(path.name, grade.call_id, grade.reviewer)
        review = reviews.setdefault(
            review_id,
            {"review_id": review_id, "call_id": grade.call_id, "reviewer": grade.reviewer, "human_score": None,
             "submitted_at": None},
        )  # fmt: skip
        if grade.score is not None:
            review["human_score"] = grade.score
        if grade.graded_at is not None:
            review["submitted_at"] = max(filter(None, [review["submitted_at"], grade.graded_at]))
    stored_reviews, stored_grades = queries.existing_grades(list(reviews))
    new_grades = [
        g
        for g in good
        if (review_id_for(path.name, g.call_id, g.reviewer), g.criterion_id) not in stored_grades
    ]
    result.already_imported = len(good) - len(new_grades)
    new_reviews = [r for r in reviews.values() if r["review_id"] not in stored_reviews]
    review_frame = pd.DataFrame(
        {
            "review_id": [r["review_id"] for r in new_reviews],
            "call_id": [r["call_id"] for r in new_reviews],
            "reviewer": [r["reviewer"] for r in new_reviews],
            "human_score": pd.Series([r["human_score"] for r in new_reviews], dtype=float),
            "source": "import",
            "submitted_at": pd.Series(
                [r["submitted_at"] or now for r in new_reviews], dtype="datetime64[us]"
            ),
        }
    )
    grade_frame = pd.DataFrame(
        {
            "review_id": [review_id_for(path.name, g.call_id, g.reviewer) for g in new_grades],
            "criterion_id": [g.criterion_id for g in new_grades],
            "status": [g.status for g in new_grades],
            "points": pd.Series([g.points for g in new_grades], dtype=float),
            "comment": pd.Series([g.comment for g in new_grades], dtype=object),
        }
    )
    queries.insert_frames({"reviews": review_frame, "human_grades": grade_frame})
    result.reviews_added, result.grades_added = len(new_reviews), len(new_grades)
    queries.record_import(
        path.name,
        f"{result.reviews_added} reviews, {result.grades_added} grades added; {result.already_imported}"
        f" already imported; {len(bad)} bad lines",
    )
    return result
