"""The grading form: its fields and limits, what it shows (``form_values``) and what it saves
(``parse_review_form``). Pure functions: no request, no database."""

from __future__ import annotations

import math
import re

from pipeline.store.review_store import CriterionGrade, ReviewSubmission

GRADE_STATUSES = ("pass", "fail", "na")
# Longest text a field takes; the form shows the limit and counts, the server refuses more with a
# message on the page (never cuts silently).
MAX_COMMENT_CHARS = 5000
MAX_REASON_CHARS = 1000
TEXT_FIELDS = {
    "overall_comment": "Overall comment",
    "coaching_notes": "Coaching notes",
    "amend_reason": "Reason for the amendment",
}
CRITERION_FIELD = re.compile(r"(mode|status|points|comment)__([A-Za-z0-9_.-]{1,100})")
MAX_DRAFT_FIELDS = 400


class FormProblem(ValueError):
    """A grading form that cannot be saved; ``str()`` names the field and the reason."""


def char_limit(name: str) -> int:
    return MAX_REASON_CHARS if name == "amend_reason" else MAX_COMMENT_CHARS


def _label(name: str) -> str:
    match = CRITERION_FIELD.fullmatch(name)
    if match:
        return f"{match.group(2).replace('_', ' ')}: {match.group(1)}"
    return TEXT_FIELDS.get(name, name)


def form_fields(form, check: bool = True) -> dict[str, str]:
    """The grading fields of a posted form (or a draft), as plain strings; anything else dropped.
    ``FormProblem`` (when ``check``) for a value over its limit or absurdly many fields."""
    fields: dict[str, str] = {}
    for name in form:
        if name in TEXT_FIELDS or CRITERION_FIELD.fullmatch(name):
            value = form.get(name)
            fields[name] = value if isinstance(value, str) else ""
    if not check:
        return fields
    if len(fields) > MAX_DRAFT_FIELDS:
        raise FormProblem(f"the form has {len(fields)} fields, more than a rubric has")
    for name, value in fields.items():
        limit = char_limit(name)
        if len(value) > limit:
            raise FormProblem(
                f"{_label(name)}: {len(value):,} characters, more than the {limit:,} allowed"
                " (nothing was saved: shorten it and send again)"
            )
    return fields


def form_values(
    criteria: list[dict], amends: dict | None = None, *overlays: dict[str, str]
) -> dict[str, str]:
    """What the form shows: the automatic result of each criterion (``agree``, except where
    calibration does not trust it: no default there), or the amended review's grades and notes;
    then each overlay (a draft, then what was just posted) on top."""
    values: dict[str, str] = {}
    grades = amends["grades"] if amends else {}
    for criterion in criteria:
        cid = criterion["criterion_id"]
        grade = grades.get(cid)
        overridden = grade and (
            grade["status"] != criterion["status"] or grade["points"] != criterion["points"]
        )
        if overridden:
            values |= {f"mode__{cid}": "override", f"status__{cid}": grade["status"]}
            if grade["points"] is not None:
                values[f"points__{cid}"] = f"{grade['points']:g}"
        else:
            values[f"status__{cid}"] = criterion["status"]
            if grade or not criterion.get("needs_human"):
                values[f"mode__{cid}"] = "agree"
        if grade and grade["comment"]:
            values[f"comment__{cid}"] = grade["comment"]
    if amends:
        values["overall_comment"] = amends["overall_comment"] or ""
        values["coaching_notes"] = amends["coaching_notes"] or ""
    for overlay in overlays:
        values |= overlay
    return values


def parse_review_form(
    call_id: str,
    form,
    criteria: list[dict],
    score: dict | None,
    amends: str | None,
    pass_mark: float | None = None,
) -> ReviewSubmission:
    """The grading form -> a ``ReviewSubmission``; ``FormProblem`` names the first problem.

    The human verdict passes when the human score reaches ``pass_mark`` and no auto-fail criterion
    is graded fail (as the automatic one does); without a pass mark it is left open (None).
    """
    fields = form_fields(form)
    grades: list[CriterionGrade] = []
    for criterion in criteria:
        cid = criterion["criterion_id"]
        mode = fields.get(f"mode__{cid}")
        comment = fields.get(f"comment__{cid}", "").strip() or None
        if mode == "agree":
            grades.append(
                CriterionGrade(cid, criterion["status"], criterion["points"], comment, True)
            )
            continue
        if mode != "override":
            raise FormProblem(f"{cid.replace('_', ' ')}: choose 'agree' or 'override'")
        status = fields.get(f"status__{cid}")
        if status not in GRADE_STATUSES:
            raise FormProblem(f"{cid}: the override needs a result: pass, fail or N/A")
        points_text = fields.get(f"points__{cid}", "").strip()
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
    reason = fields.get("amend_reason", "").strip() or None
    if amends and not reason:
        raise FormProblem("Reason for the amendment: say why the review is changed")
    applied = [(g, c) for g, c in zip(grades, criteria) if g.status != "na"]
    possible = sum(float(c["max_points"]) for _, c in applied)
    human_score = (
        round(100.0 * sum(g.points or 0.0 for g, _ in applied) / possible, 1) if possible else 100.0
    )
    auto_failed = any(g.status == "fail" and c["auto_fail"] for g, c in zip(grades, criteria))
    return ReviewSubmission(
        call_id=call_id,
        grades=grades,
        overall_comment=fields.get("overall_comment", "").strip() or None,
        coaching_notes=fields.get("coaching_notes", "").strip() or None,
        amends_review_id=amends,
        rubric_id=score["rubric_id"] if score else None,
        rubric_version=score["rubric_version"] if score else None,
        human_score=human_score,
        human_passed=None if pass_mark is None else human_score >= pass_mark and not auto_failed,
        amend_reason=reason if amends else None,
    )
