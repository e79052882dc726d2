"""Threshold tuning: new thresholds from human grades, written as a new rubric version.

Two thresholds are tuned on the calls humans graded:

- each ``phrase``, ``forbidden`` and ``phrase_after_cue`` criterion's fuzzy-match
  ``min_similarity`` (``pipeline.scoring.SWEEPABLE_TYPES``), swept to the value that maximises
  Cohen's κ against the reference human grade (one scoring pass per call gives every threshold's
  verdict: ``pipeline.scoring.similarity_margins``);
- the ``pass_mark``, set to the lowest value at which the review queue (auto-fails and calls
  below the pass mark) catches the target share of the calls a human failed — the fewest
  reviews that reach the target — with the tuned verdicts.

The result is a new rubric file, version + 1, never the old file changed: comments and layout are
kept, only ``version``, ``pass_mark`` and the tuned ``min_similarity`` lines change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import yaml

from pipeline.store.calibration_sql import CalibrationQueries
from pipeline.calibration.report import rubric_facts
from pipeline.calibration.stats import FAIL, NA, PASS, cohen_kappa
from pipeline.scoring import SWEEPABLE_TYPES

SIMILARITY_GRID = np.arange(50.0, 100.5, 1.0)
MIN_SWEEP_CALLS = 30


@dataclass(frozen=True)
class ThresholdSweep:
    """κ against the human grade at each ``min_similarity`` for one criterion."""

    criterion_id: str
    kind: str  # the criterion type: a forbidden phrase fails when said, the others pass
    current: float
    thresholds: np.ndarray
    kappas: np.ndarray
    n: int
    best: float
    note: str = ""

    def kappa_at(self, threshold: float) -> float:
        index = int(np.argmin(np.abs(self.thresholds - threshold)))
        return float(self.kappas[index])

    @property
    def changed(self) -> bool:
        return not math.isclose(self.best, self.current)


@dataclass
class TuningResult:
    rubric_id: str
    from_version: int
    to_version: int
    sweeps: list[ThresholdSweep]
    pass_mark_before: float
    pass_mark_after: float
    target: float
    graded: int
    human_failed: int
    catch_before: float  # share of human-failed calls the queue catches with the old rubric
    catch_after: float  # ... with the tuned verdicts and pass mark
    queued_share_before: float  # share of graded calls the queue takes
    queued_share_after: float
    calls_per_day: float
    rubric_text: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def reviews_per_day_before(self) -> float:
        return self.queued_share_before * self.calls_per_day

    @property
    def reviews_per_day_after(self) -> float:
        return self.queued_share_after * self.calls_per_day


def _verdicts(said: np.ndarray, kind: str) -> np.ndarray:
    """Verdicts from whether the phrase was heard at the threshold."""
    return np.where(said, FAIL, PASS) if kind == "forbidden" else np.where(said, PASS, FAIL)


def sweep_threshold(
    criterion_id: str,
    kind: str,
    margins: np.ndarray,
    human: np.ndarray,
    current: float,
    thresholds: np.ndarray = SIMILARITY_GRID,
) -> ThresholdSweep:
    """The ``min_similarity`` with the highest κ against ``human`` (ties: nearest the current).

    ``margins`` come from ``similarity_margins``; calls where the human said N/A are left out.
    """
    margins = np.asarray(margins, dtype=float)
    human = np.asarray(human, dtype=object)
    keep = (human != NA) & ~np.isnan(margins)
    margins, human = margins[keep], human[keep]
    grid = np.asarray(thresholds, dtype=float)
    if len(grid) == 0 or not np.any(np.isclose(grid, current)):
        grid = np.sort(np.r_[grid, current])
    kappas = np.full(len(grid), np.nan)
    for i, threshold in enumerate(grid):
        said = margins >= threshold
        auto = _verdicts(said, kind)
        kappas[i] = cohen_kappa(list(human), list(auto), labels=(PASS, FAIL))
    n = len(human)
    note = ""
    if n < MIN_SWEEP_CALLS:
        best, note = (
            current,
            f"kept: only {n} graded calls where it applied, with transcripts (need {MIN_SWEEP_CALLS})",
        )
    elif np.all(np.isnan(kappas)):
        best, note = current, "kept: κ undefined at every threshold (one verdict only)"
    else:
        top = np.nanmax(kappas)
        candidates = grid[np.isclose(kappas, top, rtol=0, atol=1e-12)]
        best = float(candidates[np.argmin(np.abs(candidates - current))])
    return ThresholdSweep(criterion_id, kind, float(current), grid, kappas, n, float(best), note)


def _scores(statuses: pd.DataFrame) -> pd.Series:
    """Per call: 100 * weight of passed criteria / weight of criteria that applied."""
    applied = statuses[statuses.auto != NA]
    possible = applied.groupby("call_id").weight.sum()
    earned = applied[applied.auto == PASS].groupby("call_id").weight.sum()
    scores = (100.0 * earned.reindex(possible.index, fill_value=0.0) / possible).fillna(100.0)
    return scores.reindex(statuses.call_id.unique(), fill_value=100.0)


def _queue_catch(
    statuses: pd.DataFrame, auto_fail_ids: set[str], human_failed: pd.Series, pass_mark: float
) -> tuple[float, float]:
    """(share of human-failed calls queued, share of graded calls queued) at ``pass_mark``."""
    scores = _scores(statuses)
    auto_failed = statuses[
        statuses.criterion_id.isin(auto_fail_ids) & (statuses.auto == FAIL)
    ].call_id.unique()
    queued = (scores < pass_mark) | scores.index.isin(auto_failed)
    failed = human_failed.reindex(scores.index, fill_value=False)
    catch = float(queued[failed].mean()) if failed.any() else float("nan")
    return catch, float(queued.mean()) if len(queued) else float("nan")


def lowest_pass_mark(
    statuses: pd.DataFrame, auto_fail_ids: set[str], human_failed: pd.Series, target: float
) -> float | None:
    """The lowest pass mark (0.5 steps, at most 100) at which the queue catches ``target``."""
    for mark in np.arange(0.0, 100.5, 0.5):
        catch, _ = _queue_catch(statuses, auto_fail_ids, human_failed, float(mark))
        if catch >= target - 1e-12:
            return float(mark)
    return None


def _number(value: float) -> str:
    return f"{value:g}"


def rewrite_rubric(
    source_text: str,
    version: int,
    pass_mark: float,
    min_similarity: Mapping[str, float],
    header: str,
) -> str:
    """The rubric's YAML with ``version``, ``pass_mark`` and criteria's ``min_similarity`` set,
    everything else (comments, order, layout) as it was."""
    root = yaml.compose(source_text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied back to front

    def set_scalar(mapping: yaml.MappingNode, key: str, value: str, after_key: str) -> None:
        for key_node, value_node in mapping.value:
            if key_node.value == key:
                edits.append((value_node.start_mark.index, value_node.end_mark.index, value))
                return
        for key_node, value_node in mapping.value:
            if key_node.value == after_key:
                line_end = source_text.find("\n", value_node.end_mark.index)
                line_end = len(source_text) if line_end < 0 else line_end + 1
                indent = " " * key_node.start_mark.column
                edits.append((line_end, line_end, f"{indent}{key}: {value}\n"))
                return
        raise ValueError(f"rubric has no {after_key!r} to place {key!r} after")

    set_scalar(root, "version", str(version), "id")
    set_scalar(root, "pass_mark", _number(pass_mark), "version")
    stages = next((v for k, v in root.value if k.value == "stages"), None)
    for stage in stages.value if stages is not None else []:
        criteria = next((v for k, v in stage.value if k.value == "criteria"), None)
        for criterion in criteria.value if criteria is not None else []:
            criterion_id = next((v.value for k, v in criterion.value if k.value == "id"), None)
            if criterion_id in min_similarity:
                set_scalar(criterion, "min_similarity", _number(min_similarity[criterion_id]), "id")
    text = source_text
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return header + text


def tune(
    queries: CalibrationQueries,
    margins_for: Callable[[list[str]], dict[str, dict[str, float]]] | None,
    rubric_id: str | None = None,
    version: int | None = None,
    since: datetime | None = None,
    target: float = 0.95,
) -> TuningResult | None:
    """Tune a rubric version's thresholds on its human-graded calls (see the module docstring).

    ``margins_for(call_ids)`` returns each call's ``similarity_margins`` (it needs transcripts and
    the language model, so the caller provides it); None skips the similarity sweep.
    """
    picked = queries.pick_rubric(rubric_id, version)
    if picked is None:
        return None
    rubric_id, version = picked
    source = queries.rubric_source(rubric_id, version)
    if source is None:
        raise ValueError(f"rubric {rubric_id} v{version} has no stored source in the database")
    criteria = queries.rubric_criteria(rubric_id, version)
    facts = rubric_facts(criteria, source["pass_mark"])
    if facts is None:
        raise ValueError(f"rubric {rubric_id} v{version} has no stored criteria in the database")
    sweepable = criteria[criteria.type.isin(SWEEPABLE_TYPES)]
    current_similarity = dict(zip(sweepable.criterion_id, sweepable.min_similarity.astype(float)))
    grades = queries.reference_grades(rubric_id, version, since)
    reviews = queries.review_scores(rubric_id, version, since)
    reference = reviews[reviews.reviewer_rank == 1].set_index("call_id")
    auto_fail_ids = {c for c, flag in facts.auto_fail.items() if flag}
    human_auto_fail = grades[
        grades.criterion_id.isin(auto_fail_ids) & (grades.human == FAIL)
    ].call_id.unique()
    human_failed = (reference.human_score < facts.pass_mark) | reference.index.isin(human_auto_fail)
    statuses = grades[grades.call_id.isin(reference.index)].copy()

    sweeps: list[ThresholdSweep] = []
    warnings: list[str] = []
    if margins_for is not None and current_similarity:
        margins = margins_for(sorted(statuses.call_id.unique()))
        for criterion_id, current in current_similarity.items():
            rows = statuses[statuses.criterion_id == criterion_id]
            values = np.array(
                [margins.get(call, {}).get(criterion_id, np.nan) for call in rows.call_id]
            )
            kind = facts.types.get(criterion_id, "phrase")
            sweep = sweep_threshold(
                criterion_id, kind, values, rows.human.fillna(NA).to_numpy(), current
            )
            sweeps.append(sweep)
            if sweep.note:
                warnings.append(f"{criterion_id}: {sweep.note}")
            has_margin = ~np.isnan(values)
            said = values[has_margin] >= sweep.best
            new = _verdicts(said, kind)
            statuses.loc[rows.index[has_margin], "auto"] = new
    elif margins_for is None:
        warnings.append("similarity thresholds not swept (no transcripts)")

    before = grades[grades.call_id.isin(reference.index)]
    catch_before, share_before = _queue_catch(before, auto_fail_ids, human_failed, facts.pass_mark)
    mark = lowest_pass_mark(statuses, auto_fail_ids, human_failed, target)
    if mark is None:
        mark = 100.0
        warnings.append(
            f"no pass mark catches {target:.0%} of human-failed calls (some pass every criterion the machine checks);"
            " pass mark set to 100"
        )
    catch_after, share_after = _queue_catch(statuses, auto_fail_ids, human_failed, mark)
    if int(human_failed.sum()) < 20:
        warnings.append(
            f"only {int(human_failed.sum())} human-failed calls: the pass mark is a rough guess"
        )
    changed = {s.criterion_id: s.best for s in sweeps if s.changed}
    header = "".join(
        [
            (
                f"# Tuned by `callqa calibrate tune` on {date.today().isoformat()} from {rubric_id}"
                f" v{version}, on {len(reference)} human-graded calls:\n"
            ),
            (
                f"#   pass_mark {_number(facts.pass_mark)} -> {_number(mark)}: the queue catches"
                f" {catch_after:.0%} of {int(human_failed.sum())} human-failed calls"
                f" (was {catch_before:.0%})\n"
            ),
            *(
                f"#   {s.criterion_id} min_similarity {_number(s.current)} -> {_number(s.best)}:"
                f" κ {s.kappa_at(s.current):.2f} -> {s.kappa_at(s.best):.2f} on {s.n} calls\n"
                for s in sweeps
                if s.changed
            ),
        ]
    )
    text = rewrite_rubric(source["source_text"], version + 1, mark, changed, header)
    return TuningResult(
        rubric_id=rubric_id,
        from_version=version,
        to_version=version + 1,
        sweeps=sweeps,
        pass_mark_before=facts.pass_mark,
        pass_mark_after=mark,
        target=target,
        graded=len(reference),
        human_failed=int(human_failed.sum()),
        catch_before=catch_before,
        catch_after=catch_after,
        queued_share_before=share_before,
        queued_share_after=share_after,
        calls_per_day=queries.calls_per_day(rubric_id, version),
        rubric_text=text,
        warnings=warnings,
    )


def margins_from_transcripts(
    store, rubric, settings
) -> Callable[[list[str]], dict[str, dict[str, float]]]:
    """``margins_for`` for ``tune``: judge each call's stored transcript once (no audio, no ASR);
    each sweepable criterion's verdict carries the similarity it turns on."""

    def margins_for(call_ids: list[str]) -> dict[str, dict[str, float]]:
        from pipeline.categories import load_categories
        from pipeline.judge import judge_call
        from pipeline.models import Models
        from pipeline.signals import SignalStage

        models = Models(settings.models_dir, settings.asr)
        nlp = models.nlp()
        # the customer's events too: a phrase_after_cue criterion may be cued by them
        signal_stage = SignalStage(models.sentiment(), settings.customer, load_categories(settings.categories))
        margins: dict[str, dict[str, float]] = {}
        for call in store.calls_for_rescoring(call_ids):
            if not call.words:
                continue
            judgement = judge_call(
                call.call_id, call.turns, call.words, call.duration_s, rubric, nlp,
                diarization_confidence=call.diarization_confidence, role_confidence=call.role_confidence,
                feature_options=settings.features, queue_policy=settings.queue, signal_stage=signal_stage,
            )  # fmt: skip
            margins[call.call_id] = {
                c.criterion_id: c.similarity_margin
                for c in judgement.score.criteria
                if c.similarity_margin is not None
            }
        return margins

    return margins_for
