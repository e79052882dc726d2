"""pipeline/timeline.py: span algebra with exact, hand-made spans."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import timeline
from pipeline.types import Segment as S


def test_merge_joins_overlapping_and_touching_spans_in_any_order():
    assert timeline.merge([S(5, 6), S(0, 1), S(0.5, 2), S(2, 3)]) == [S(0, 3), S(5, 6)]


def test_merge_drops_empty_and_reversed_spans():
    assert timeline.merge([S(1, 1), S(3, 2), S(4, 5)]) == [S(4, 5)]


def test_merge_bridges_gaps_shorter_than_bridge_only():
    spans = [S(0, 1), S(1.2, 2), S(2.5, 3)]
    assert timeline.merge(spans, bridge_s=0.3) == [S(0, 2), S(2.5, 3)]
    assert timeline.merge(spans, bridge_s=0.5) == [S(0, 2), S(2.5, 3)]  # a gap of exactly 0.5 stays
    assert timeline.merge(spans, bridge_s=0.51) == [S(0, 3)]


def test_total_counts_overlaps_once():
    assert timeline.total_s([S(0, 2), S(1, 3), S(10, 11)]) == pytest.approx(4.0)
    assert timeline.total_s([]) == 0.0


def test_gaps_are_between_spans_only():
    assert timeline.gaps([S(1, 2), S(4, 5), S(1.5, 3)]) == [S(3, 4)]
    assert timeline.gaps([S(1, 2)]) == []


def test_intersect():
    first = [S(0, 4), S(6, 10)]
    second = [S(3, 7), S(9, 12)]
    assert timeline.intersect(first, second) == [S(3, 4), S(6, 7), S(9, 10)]
    assert timeline.intersect(first, []) == []


def test_subtract_cuts_holes_and_edges():
    assert timeline.subtract([S(0, 10)], [S(2, 3), S(5, 6), S(9, 12)]) == [
        S(0, 2),
        S(3, 5),
        S(6, 9),
    ]
    assert timeline.subtract([S(0, 1)], [S(0, 1)]) == []
    assert timeline.subtract([S(0, 1), S(2, 3)], []) == [S(0, 1), S(2, 3)]


def test_widen_pads_clips_and_merges():
    assert timeline.widen([S(1, 2), S(2.4, 3), S(9.9, 10)], 0.25, 0.0, 10.0) == [
        S(0.75, 3.25),
        S(9.65, 10.0),
    ]
    with pytest.raises(ValueError, match="margin_s"):
        timeline.widen([S(0, 1)], -1, 0, 1)


def _subtract_by_scan(spans, removed):
    """subtract as every cut checked against every span (the rule the linear walk keeps)."""
    cuts, out = timeline.merge(removed), []
    for span in timeline.merge(spans):
        start_s = span.start_s
        for cut in cuts:
            if cut.end_s <= start_s or cut.start_s >= span.end_s:
                continue
            if cut.start_s > start_s:
                out.append(S(start_s, cut.start_s))
            start_s = max(start_s, cut.end_s)
        if span.end_s > start_s:
            out.append(S(start_s, span.end_s))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_subtract_and_span_lookups_agree_with_a_scan(seed):
    rng = np.random.default_rng(seed)

    def spans(count):
        starts = np.round(rng.integers(0, 200, count) * 0.5, 3)
        return [S(float(s), float(s + rng.choice([0.0, 0.5, 1.0, 3.0, 20.0]))) for s in starts]

    kept, cuts = spans(40), spans(40)
    assert timeline.subtract(kept, cuts) == _subtract_by_scan(kept, cuts)
    index = timeline.SpanIndex(kept)
    for time_s in np.arange(-1.0, 125.0, 0.25):
        containing = [i for i, s in enumerate(kept) if s.start_s <= time_s <= s.end_s]
        assert index.first_containing(time_s) == (containing[0] if containing else None)
        distances = [min(abs(s.start_s - time_s), abs(s.end_s - time_s)) for s in kept]
        assert index.nearest(time_s) == int(np.argmin(distances))
