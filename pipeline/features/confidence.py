"""Stretches of a call the transcription is unsure of: runs of low-probability words, as events a
reviewer can jump to (listen there rather than trust the transcript)."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.types import Event, Word


def find_low_confidence(
    words: Sequence[Word], max_probability: float, min_words: int, max_gap_s: float
) -> list[Event]:
    """``low_confidence`` events, in time order: runs of at least ``min_words`` words of one
    speaker, each with a probability below ``max_probability``, at most ``max_gap_s`` apart.
    ``detail`` gives the number of words and their mean probability. Words without a probability
    never count as unsure."""
    events: list[Event] = []
    for speaker in sorted({w.speaker for w in words}):
        own = sorted((w for w in words if w.speaker == speaker), key=lambda w: w.start_s)
        run: list[Word] = []
        for word in [*own, None]:
            unsure = (
                word is not None
                and word.probability is not None
                and word.probability < max_probability
            )
            if unsure and run and word.start_s - run[-1].end_s <= max_gap_s:
                run.append(word)
                continue
            if len(run) >= min_words:
                mean = sum(w.probability for w in run) / len(run)
                events.append(
                    Event(
                        "low_confidence", run[0].start_s, run[-1].end_s, speaker,
                        f"{len(run)} words, mean probability {mean:.2f}",
                    )
                )  # fmt: skip
            run = [word] if unsure else []
    return sorted(events, key=lambda e: (e.start_s, e.end_s, e.speaker))
