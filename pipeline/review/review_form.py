"""The grading form: field names, limits, and the form -> ``ReviewSubmission`` parser (pure)."""

from __future__ import annotations

import math

from pipeline.store.review_store import CriterionGrade, ReviewSubmission

GRADE_STATUSES = ("pass", "fail", "na")
MAX_COMMENT_CHARS = 5000


class FormProblem(ValueError):
    """A grading form that cannot be saved; ``str()`` names the field and the reason."""


def parse_review_form(
    call_id: str, form, criteria: list[dict], score: dict | None, amends: str | None
) -> ReviewSubmission:
    """The grading form -> a ``ReviewSubmission``; ``FormProblem`` names the first problem."""
    grades: list[CriterionGrade] = []
    for criterion in criteria:
        cid = criterion["criterion_id"]
        mode = form.get(f"mode__{cid}")
        comment = str(form.get(f"comment__{cid}") or "").strip()[:MAX_COMMENT_CHARS] or None
        if mode == "agree":
            grades.append(
                CriterionGrade(cid, criterion["status"], criterion["points"], comment, True)
            )
            continue
        if mode != "override":
            raise FormProblem(f"{cid}: choose 'agree' or 'override'")
        status = form.get(f"status__{cid}")
        if status not in GRADE_STATUSES:
            raise FormProblem(f"{cid}: the override needs a result: pass, fail or N/A")
        points_text = str(form.get(f"points__{cid}") or "").strip()
        maximum = float(criterion["max_points"])
        if status == "na":
            points = None
        elif points_text:
            try:
                points = float(points_text)
            except ValueError:
                raise FormProblem(f"{cid}: points {points_text!r} is not a number") from None
            if not (0 <= points <= maximum) or math.isnan(points):
                raise FormProblem(f"{cid}: points must be between 0 and {maximum:g}")
        else:
            points = maximum if status == "pass" else 0.0
        grades.append(CriterionGrade(cid, status, points, comment, False))
    applied = [(g, c) for g, c in zip(grades, criteria) if g.status != "na"]
    possible = sum(float(c["max_points"]) for _, c in applied)
    human_score = (
        round(100.0 * sum(g.points or 0.0 for g, _ in applied) / possible, 1) if possible else 100.0
    )
    return ReviewSubmission(
        call_id=call_id,
        grades=grades,
        overall_comment=str(form.get("overall_comment") or "").strip()[:MAX_COMMENT_CHARS] or None,
        coaching_notes=str(form.get("coaching_notes") or "").strip()[:MAX_COMMENT_CHARS] or None,
        amends_review_id=amends,
        rubric_id=score["rubric_id"] if score else None,
        rubric_version=score["rubric_version"] if score else None,
        human_score=human_score,
    )
