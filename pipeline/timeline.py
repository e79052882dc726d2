"""Span algebra on call time: union, gaps, intersection, difference, padding and total length.

One implementation for every stage that combines time spans (speech regions, turns, events,
redactions), modelled on pyannote.core's ``Timeline``: a timeline here is a plain sorted list of
non-overlapping ``Segment``s, which is what each function returns. Inputs may be in any order and
overlap; empty and reversed spans are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from pipeline.types import Segment


def merge(spans: Iterable[Segment], bridge_s: float = 0.0) -> list[Segment]:
    """The union of ``spans``; spans that touch, or whose gap is shorter than ``bridge_s``, join."""
    merged: list[Segment] = []
    for span in sorted(
        (s for s in spans if s.end_s > s.start_s), key=lambda s: (s.start_s, s.end_s)
    ):
        if merged and (
            span.start_s <= merged[-1].end_s or span.start_s - merged[-1].end_s < bridge_s
        ):
            if span.end_s > merged[-1].end_s:
                merged[-1] = Segment(merged[-1].start_s, span.end_s)
        else:
            merged.append(span)
    return merged


def total_s(spans: Iterable[Segment]) -> float:
    """Seconds covered by at least one span (overlaps count once)."""
    return sum(span.end_s - span.start_s for span in merge(spans))


def gaps(spans: Iterable[Segment]) -> list[Segment]:
    """The holes between the union's spans (not before the first or after the last)."""
    return [Segment(before.end_s, after.start_s) for before, after in pairwise(merge(spans))]


def intersect(first: Iterable[Segment], second: Iterable[Segment]) -> list[Segment]:
    """Where both timelines are covered."""
    left, right = merge(first), merge(second)
    out: list[Segment] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start_s = max(left[i].start_s, right[j].start_s)
        end_s = min(left[i].end_s, right[j].end_s)
        if end_s > start_s:
            out.append(Segment(start_s, end_s))
        if left[i].end_s < right[j].end_s:
            i += 1
        else:
            j += 1
    return out


def subtract(spans: Iterable[Segment], removed: Iterable[Segment]) -> list[Segment]:
    """``spans`` with every part covered by ``removed`` cut out."""
    cuts = merge(removed)
    out: list[Segment] = []
    for span in merge(spans):
        start_s = span.start_s
        for cut in cuts:
            if cut.end_s <= start_s or cut.start_s >= span.end_s:
                continue
            if cut.start_s > start_s:
                out.append(Segment(start_s, cut.start_s))
            start_s = max(start_s, cut.end_s)
        if span.end_s > start_s:
            out.append(Segment(start_s, span.end_s))
    return out


def widen(spans: Iterable[Segment], margin_s: float, start_s: float, end_s: float) -> list[Segment]:
    """Each span grown by ``margin_s`` on both sides, clipped to [start_s, end_s], then merged."""
    if margin_s < 0:
        raise ValueError(f"widen: margin_s must be >= 0, got {margin_s}")
    return merge(
        Segment(max(start_s, span.start_s - margin_s), min(end_s, span.end_s + margin_s))
        for span in spans
    )
