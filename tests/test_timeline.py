"""pipeline/timeline.py: span algebra with exact, hand-made spans."""

from __future__ import annotations

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
