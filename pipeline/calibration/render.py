"""Print calibration results as rich tables (the CLI's output)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.table import Table

from pipeline.calibration.stats import LABELS, Agreement, Estimate

if TYPE_CHECKING:
    from pipeline.calibration.grades_import import ImportResult
    from pipeline.calibration.report import CalibrationReport
    from pipeline.calibration.tuning import TuningResult


def interval(estimate: Estimate | None, digits: int = 2, percent: bool = False) -> str:
    """``0.76 [0.70, 0.82]``; ``—`` when undefined."""
    if estimate is None or math.isnan(estimate.value):
        return "—"
    scale, unit = (100, "%") if percent else (1, "")
    value = f"{estimate.value * scale:.{digits}f}{unit}"
    if math.isnan(estimate.low):
        return value
    return f"{value} [{estimate.low * scale:.{digits}f}, {estimate.high * scale:.{digits}f}]"


def _cells(result: Agreement) -> list[str]:
    """Per human verdict: how the machine graded those calls, as pass/fail/na counts."""
    cells = []
    for label in LABELS:
        if label not in result.labels:
            cells.append("—")
            continue
        row = result.table[result.labels.index(label)]
        counts = {other: int(row[result.labels.index(other)]) for other in result.labels}
        cells.append("/".join(str(counts.get(other, 0)) for other in LABELS))
    return cells


def print_report(report: CalibrationReport, out: Console) -> None:
    """Every table of the calibration report, then its warnings."""
    options = report.options
    out.rule(
        f"Calibration of {report.rubric_id} v{report.rubric_version}: {report.calls_graded} human-graded of "
        f"{report.calls_scored} scored calls ({report.calls_graded_twice} graded twice)"
        + (f", grades since {report.since:%Y-%m-%d}" if report.since else "")
    )
    criteria = Table(
        title="Auto vs human per criterion (human = each call's first reviewer; 95 % bootstrap intervals)",
        caption=f"trusted: κ lower bound ≥ {options.trust.min_kappa_low:g} on ≥ {options.trust.min_calls} calls, "
        f"≥ {options.trust.min_failed} of them failed by a human; human κ = first vs second reviewer on calls graded twice (the ceiling)",
    )
    for column in (
        "criterion",
        "n",
        "human fail",
        "agree",
        "Cohen's κ",
        "Gwet's AC1",
        "human κ (n)",
        "decision",
    ):
        criteria.add_column(
            column, overflow="fold", justify="right" if column in ("n", "human fail") else "left"
        )
    for c in report.criteria:
        ceiling = f"{interval(c.ceiling.kappa)} ({c.ceiling.n})" if c.ceiling is not None else "—"
        decision = (
            "[green]trusted[/green]"
            if c.trust.trusted
            else f"[red]needs human[/red]: {c.trust.reason}"
        )
        criteria.add_row(
            c.criterion_id + (" (auto-fail)" if c.auto_fail else ""), str(c.n), f"{c.human_fail_share:.0%}",
            interval(c.agreement.percent, 0, percent=True), interval(c.agreement.kappa), interval(c.agreement.ac1),
            ceiling, decision,
        )  # fmt: skip
    out.print(criteria)

    confusion = Table(title="Confusion: per human verdict, the machine's pass/fail/na counts")
    for column in ("criterion", "human pass", "human fail", "human na"):
        confusion.add_column(column, justify="left" if column == "criterion" else "right")
    for c in report.criteria:
        confusion.add_row(c.criterion_id, *_cells(c.agreement))
    out.print(confusion)

    score = report.score
    overall = Table(title=f"Overall score, auto vs human (n = {score.n} calls)")
    for column in ("figure", "value [95 % interval]", "n"):
        overall.add_column(column)
    rows = [
        ("mean bias (auto − human), points", interval(score.bias, 1)),
        ("mean absolute difference, points", interval(score.mean_abs_diff, 1)),
        ("within ±10 points", interval(score.within_10, 0, percent=True)),
        ("ICC(A,1) (absolute agreement)", interval(score.icc)),
        ("Krippendorff's α (interval)", interval(score.alpha)),
        (
            "Spearman ρ",
            "—"
            if math.isnan(score.spearman)
            else f"{score.spearman:.2f} (p = {score.spearman_p:.2g})",
        ),
    ]
    for name, value in rows:
        overall.add_row(name, value, str(score.n))
    out.print(overall)

    if report.reviewers:
        reviewers = Table(
            title="Reviewers: bias against the other reviewers on the same calls (t intervals)"
        )
        for column in (
            "reviewer",
            "calls",
            "shared",
            "vs others, points",
            "vs auto, points",
            "grades",
        ):
            reviewers.add_column(
                column, justify="left" if column in ("reviewer", "grades") else "right"
            )
        for r in report.reviewers:
            reviewers.add_row(
                r.reviewer, str(r.calls), str(r.bias_vs_others.n), interval(r.bias_vs_others, 1),
                interval(r.bias_vs_auto, 1), r.tendency,
            )  # fmt: skip
        out.print(reviewers)

    queue = report.queue
    table = Table(
        title=f"Review queue vs human pass/fail ({queue.human_failed} human-failed of {queue.graded} graded calls;"
        f" {queue.calls_per_day:.0f} calls a day)"
    )
    for column in ("reviews a day", "share of calls", "human-failed calls caught"):
        table.add_column(column, justify="right")
    if queue.human_failed and len(queue.budgets) > 1:
        picks = {round(queue.calls_per_day * share) for share in (0.05, 0.1, 0.2, 0.3, 0.5)}
        if queue.budget_for_target is not None:
            picks.add(queue.budget_for_target)
        for budget in sorted(b for b in picks if 0 < b < len(queue.budgets)):
            mark = " ← target" if budget == queue.budget_for_target else ""
            table.add_row(
                f"{budget}{mark}",
                f"{budget / max(queue.calls_per_day, 1):.0%}",
                f"{queue.catch[budget]:.0%}",
            )
    out.print(table)
    if queue.human_failed:
        out.print(
            f"pass mark {queue.pass_mark:g} (now): the queue catches {queue.catch_at_pass_mark:.0%} of human-failed"
            f" calls with {queue.reviews_per_day_at_pass_mark:.0f} reviews a day"
        )
        if queue.pass_mark_for_target is not None:
            out.print(
                f"pass mark {queue.pass_mark_for_target:g} catches {queue.catch_at_pass_mark_for_target:.0%}"
                f" (target {queue.target:.0%}) with {queue.reviews_per_day_for_target:.0f} reviews a day"
                " — `callqa calibrate tune` writes it into a new rubric version"
            )
    for warning in report.warnings:
        out.print(f"[yellow]n too small:[/yellow] {warning}")


def print_tuning(result: TuningResult, out: Console) -> None:
    sweeps = Table(
        title=f"Fuzzy-match thresholds swept for κ against human grades ({result.graded} graded calls)"
    )
    for column in ("criterion", "n", "min_similarity", "κ before", "κ after", "note"):
        sweeps.add_column(column)
    for s in result.sweeps:
        kappa_before, kappa_after = s.kappa_at(s.current), s.kappa_at(s.best)
        sweeps.add_row(
            s.criterion_id, str(s.n), f"{s.current:g} → {s.best:g}" if s.changed else f"{s.current:g} (kept)",
            "—" if np.isnan(kappa_before) else f"{kappa_before:.2f}", "—" if np.isnan(kappa_after) else f"{kappa_after:.2f}",
            s.note,
        )  # fmt: skip
    if result.sweeps:
        out.print(sweeps)
    out.print(
        f"pass mark {result.pass_mark_before:g} → {result.pass_mark_after:g}: the queue catches "
        f"{result.catch_before:.0%} → {result.catch_after:.0%} of {result.human_failed} human-failed calls "
        f"(target {result.target:.0%}); reviews a day ≈ {result.reviews_per_day_before:.0f} → "
        f"{result.reviews_per_day_after:.0f} (assuming graded calls are a fair sample)"
    )
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")


def print_import(result: ImportResult, out: Console) -> None:
    for bad in result.bad:
        out.print(f"[red]bad line[/red] {result.file}:{bad.line}: {bad.reason}")
    out.print(
        f"{result.file}: {result.lines} lines; {result.grades_added} grades in {result.reviews_added} new reviews added,"
        f" {result.already_imported} already imported, {len(result.bad)} bad lines skipped"
    )


def gating_cell(criterion: dict, trust: dict[str, dict], version: int) -> str:
    """``callqa show``'s gating column: the calibration decision for this criterion."""
    row = trust.get(criterion["criterion_id"])
    scored_untrusted = criterion.get("trusted") is False
    if row is None:
        return "needs human (scored untrusted)" if scored_untrusted else "not calibrated"
    kappa = "κ —" if row["kappa"] is None else f"κ {row['kappa']:.2f}"
    if row["kappa_low"] is not None:
        kappa += f" [{row['kappa_low']:.2f}, {row['kappa_high']:.2f}]"
    figures = f"{kappa}, n={row['n_calls']}"
    if row["decided_for"] != version:
        figures += f", decided under v{row['decided_for']}"
    if row["trusted"]:
        return f"trusted ({figures})" + (
            " — scored before it was trusted" if scored_untrusted else ""
        )
    return f"needs human: not trusted ({row['reason']}; {figures})"
