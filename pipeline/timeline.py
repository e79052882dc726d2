"""Span algebra on call time: union, gaps, intersection, difference, padding and total length.

One implementation for every stage that combines time spans (speech regions, turns, events,
redactions), modelled on pyannote.core's ``Timeline``: a timeline here is a plain sorted list of
non-overlapping ``Segment``s, which is what each function returns. Inputs may be in any order and
overlap; empty and reversed spans are ignored.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from itertools import accumulate, pairwise

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
    first_cut = 0  # both sides are sorted: a cut that ends before a span ends before the next ones
    for span in merge(spans):
        while first_cut < len(cuts) and cuts[first_cut].end_s <= span.start_s:
            first_cut += 1
        start_s = span.start_s
        for cut in cuts[first_cut:]:
            if cut.start_s >= span.end_s:
                break
            if cut.end_s <= start_s:
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


class SpanIndex:
    """Spans of any kind (segments, turns: anything with ``start_s`` and ``end_s``), or some of
    them by index, looked up by time: the answers of a scan through them in list order, ties to
    the earlier one, without the scan (a 4-hour call has thousands of turns and regions)."""

    def __init__(self, spans: Sequence, indices: Iterable[int] | None = None):
        self.spans = spans
        indices = list(range(len(spans))) if indices is None else list(indices)
        self.by_start = sorted(indices, key=lambda i: (spans[i].start_s, i))
        self.starts = [spans[i].start_s for i in self.by_start]
        self.latest_end = list(accumulate((spans[i].end_s for i in self.by_start), max))
        self.by_end = sorted(indices, key=lambda i: (spans[i].end_s, i))
        self.ends = [spans[i].end_s for i in self.by_end]

    def __len__(self) -> int:
        return len(self.by_start)

    def touching(self, start_s: float, end_s: float) -> list[int]:
        """Indices, in list order, of every span starting before ``end_s`` and ending after
        ``start_s`` (and maybe some that only touch): those that can overlap [start_s, end_s]."""
        return self._reaching(bisect.bisect_left(self.starts, end_s), start_s)

    def first_containing(self, time_s: float) -> int | None:
        """The first span (in list order) with start_s <= time_s <= end_s."""
        found = self._reaching(bisect.bisect_right(self.starts, time_s), time_s)
        return next(
            (i for i in found if self.spans[i].start_s <= time_s <= self.spans[i].end_s), None
        )

    def nearest(self, time_s: float) -> int | None:
        """The span whose start or end is nearest ``time_s``; the first in list order on a tie."""
        candidates = set()
        for values, order in ((self.starts, self.by_start), (self.ends, self.by_end)):
            position = bisect.bisect_left(values, time_s)
            for neighbour in (position - 1, position):
                if 0 <= neighbour < len(values):
                    # every span with this same start (or end) is as near
                    low = bisect.bisect_left(values, values[neighbour])
                    high = bisect.bisect_right(values, values[neighbour])
                    candidates.update(order[low:high])
        if not candidates:
            return None

        def distance(index: int) -> float:
            span = self.spans[index]
            return min(abs(span.start_s - time_s), abs(span.end_s - time_s))

        return min(sorted(candidates), key=distance)

    def _reaching(self, position: int, time_s: float) -> list[int]:
        """Of the spans sorted by start before ``position``, those ending at or after ``time_s``."""
        found = []
        for k in range(position - 1, -1, -1):
            if self.latest_end[k] < time_s:
                break
            found.append(self.by_start[k])
        return sorted(found)
