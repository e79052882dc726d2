"""Production reports and scorecards: coaching windows, whether a metric moved, charts, and the
self-contained HTML export. The figures themselves come from ``pipeline/store/reports_sql.py``.

Charts are SVG drawn by matplotlib and embedded as ``data:`` images, so the exported page opens with
no network and the review app's Content-Security-Policy (``img-src 'self' data:``) allows them.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `callqa report production` without --out html should not pay for these
    from jinja2 import Environment

    from pipeline.store.reports_sql import ReportQueries

TEMPLATES = Path(__file__).parent / "report_templates"
IMPROVED, WORSE, UNCHANGED, CHANGED, NO_CALLS = (
    "improved",
    "worse",
    "no change",
    "changed",
    "no calls",
)
# charts show the groups with the most calls; the table below them has every group
CHART_MAX_GROUPS = 8
CHART_MAX_TICKS = 12
PRODUCTION_CHARTS = (
    ("calls", "Calls"),
    ("aht_s", "Average handle time (s)"),
    ("queued_share", "Share of calls queued for review"),
    ("unhappy_share", "Unhappy-customer share"),
)


@dataclass(frozen=True)
class CoachingWindows:
    """The days compared for a coaching session: the same number of days before and after it."""

    before_from: date
    before_to: date
    after_from: date
    after_to: date

    @property
    def days(self) -> int:
        return (self.after_to - self.after_from).days + 1


def coaching_windows(held_on: date, follow_up_on: date, as_of: date) -> CoachingWindows:
    """After: from the session day to the follow-up day (or ``as_of`` if earlier), inclusive.
    Before: as many days, ending the day before the session."""
    after_to = max(held_on, min(follow_up_on, as_of))
    days = (after_to - held_on).days + 1
    return CoachingWindows(
        held_on - timedelta(days=days), held_on - timedelta(days=1), held_on, after_to
    )


def movement(before: float | None, after: float | None, better: str | None) -> str:
    """Whether a metric moved the right way: improved / worse / no change (``changed`` when the
    metric has no right direction; ``no calls`` when either side has none)."""
    if before is None or after is None:
        return NO_CALLS
    if after == before:
        return UNCHANGED
    if better is None:
        return CHANGED
    went_up = after > before
    return IMPROVED if went_up == (better == "higher") else WORSE


def svg_data_uri(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def _figure(width: float = 7.5, height: float = 3.0):
    # the object API (no pyplot): no global figure state, safe in the app's threads
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    return figure, axes


def line_chart(
    title: str, x: Sequence, series: dict[str, Sequence[float | None]], y_label: str = ""
) -> str:
    """One line per series over the labels ``x`` (days or weeks, evenly spaced; None = no value),
    as a data URI."""
    figure, axes = _figure()
    drawn = 0
    for name, values in series.items():
        points = [(i, y) for i, y in enumerate(values) if y is not None]
        if points:
            axes.plot(
                [p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=name
            )
            drawn += 1
    step = max(1, math.ceil(len(x) / CHART_MAX_TICKS))
    axes.set_xticks(range(0, len(x), step), [str(label) for label in x][::step])
    axes.set_xlim(-0.5, max(len(x) - 0.5, 0.5))
    axes.set_title(title, fontsize=11, loc="left")
    axes.set_ylabel(y_label)
    if drawn > 1:
        axes.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.autofmt_xdate()
    return svg_data_uri(figure)


def production_charts(rows: list[dict]) -> list[tuple[str, str]]:
    """(title, data URI) for each of ``PRODUCTION_CHARTS``, one line per group (the largest ones)."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["group"]] = totals.get(row["group"], 0) + row["calls"]
    groups = sorted(totals, key=lambda g: (-totals[g], g))[:CHART_MAX_GROUPS]
    periods = sorted({row["period"] for row in rows})
    by_key = {(row["period"], row["group"]): row for row in rows}
    charts = []
    for column, title in PRODUCTION_CHARTS:
        series = {g: [(by_key.get((p, g)) or {}).get(column) for p in periods] for g in groups}
        charts.append((title, line_chart(title, periods, series)))
    return charts


def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )
    env.filters.update(fmt=format_value)
    return env


def format_value(value, column: str = "") -> str:
    """How a figure prints in tables: shares as %, seconds and scores with one decimal."""
    if value is None:
        return "–"
    if column.endswith("_share"):
        return f"{100 * value:.1f} %"
    if isinstance(value, float):
        return f"{value:.3f}" if column == "audio_hours" else f"{value:.1f}"
    return str(value)


def plain_table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[str] = ()
) -> str:
    """Columns of text aligned with spaces (``left`` ones flush left, the rest right), a rule under the header."""
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if column in left else cell.rjust(width)
            for cell, width, column in zip(cells, widths, columns)
        ).rstrip()

    return "\n".join([line(columns), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def render_production_html(
    rows: list[dict], title: str, subtitle: str, columns: Sequence[str]
) -> str:
    """A self-contained HTML page: inline CSS, charts as data URIs, the full table; no scripts."""
    return (
        _environment()
        .get_template("production.html")
        .render(
            title=title,
            subtitle=subtitle,
            rows=rows,
            columns=columns,
            charts=production_charts(rows),
        )
    )


def metric_label(metric_id: str) -> str:
    from pipeline.store.reports_sql import CRITERION_PREFIX, METRICS

    if metric_id.startswith(CRITERION_PREFIX):
        return f"{metric_id.removeprefix(CRITERION_PREFIX)} pass rate"
    return METRICS[metric_id].label if metric_id in METRICS else metric_id


def metric_better(metric_id: str) -> str | None:
    from pipeline.store.reports_sql import CRITERION_PREFIX, METRICS

    if metric_id.startswith(CRITERION_PREFIX):
        return "higher"
    return METRICS[metric_id].better if metric_id in METRICS else None


def session_progress(queries: ReportQueries, session: dict, as_of: date) -> dict:
    """A coaching session with, per focus metric, the value before and after it and whether it moved."""
    windows = coaching_windows(session["held_on"], session["follow_up_on"], as_of)
    focus = []
    for metric_id in session["focus"]:
        before, n_before = queries.metric_value(
            session["agent_id"], metric_id, windows.before_from, windows.before_to
        )
        after, n_after = queries.metric_value(
            session["agent_id"], metric_id, windows.after_from, windows.after_to
        )
        focus.append(
            {
                "metric": metric_id,
                "label": metric_label(metric_id),
                "before": before,
                "calls_before": n_before,
                "after": after,
                "calls_after": n_after,
                "moved": movement(before, after, metric_better(metric_id)),
            }
        )
    return session | {
        "windows": windows,
        "progress": focus,
        "due": session["follow_up_on"] <= as_of,
    }


def build_scorecard(
    queries: ReportQueries,
    agent_id: str,
    date_from: date,
    date_to: date,
    as_of: date,
    scope: str = "TRUE",
    scope_params=None,
) -> dict | None:
    """Everything on an agent's scorecard; None when the agent has no calls in scope."""
    from pipeline.store.reports_sql import METRICS

    team, calls_in_scope = queries.agent_team(agent_id, scope, scope_params)
    if not calls_in_scope:
        return None
    figures = queries.scorecard_figures(agent_id, team, date_from, date_to, scope, scope_params)
    sessions = [
        session_progress(queries, s, as_of) for s in queries.coaching_sessions(agent_id=agent_id)
    ]
    return figures | {
        "agent_id": agent_id,
        "team_name": team,
        "date_from": date_from,
        "date_to": date_to,
        "coaching": sessions,
        "metrics": METRICS,
    }


def follow_up_list(queries: ReportQueries, sessions: list[dict], as_of: date) -> list[dict]:
    """Open sessions with their progress: due ones first (oldest follow-up date first), then upcoming."""
    rows = [session_progress(queries, s, as_of) for s in sessions if s["closed_at"] is None]
    return sorted(rows, key=lambda s: (not s["due"], s["follow_up_on"], s["agent_id"]))
