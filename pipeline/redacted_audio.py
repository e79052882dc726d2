"""The redacted copy of a call's audio: every redacted span silenced (or replaced by a tone),
widened by the redaction margin. It is the only audio a reviewer hears."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from pipeline import timeline
from pipeline.audio import AudioWriter, blank_spans
from pipeline.digest import file_sha256
from pipeline.types import AudioSource, Segment


class RedactedAudioOptions(BaseModel):
    """The audio copy with every redacted span blanked: the only audio a reviewer hears."""

    enabled: bool = True
    directory: Path | None = Field(None, description="default: <database name>.redacted/ beside the database")
    mode: Literal["silence", "tone"] = "silence"
    replace_original: bool = Field(False, description="overwrite the source recording with the redacted copy")
    silence_payment_windows: bool = Field(
        True,
        description="blank each whole payment exchange, not only the numbers found in it (what a "
        "recorder's pause during payment does): digits the ASR missed are never heard",
    )


@dataclass(frozen=True)
class RedactedAudio:
    """Where the copy was written, and its hash (so a replaced original is not taken for a new call)."""

    path: str
    sha256: str


def write_redacted_audio(
    audio: AudioSource,
    spans: Iterable[Segment],
    margin_s: float,
    options: RedactedAudioOptions,
    target: Path,
) -> RedactedAudio:
    """Blank every span (widened by ``margin_s``) in all channels of ``audio`` and write it to
    ``target``, block by block (the call is never in memory whole).

    With ``replace_original`` the source recording is removed once the copy is written.
    """
    blanked_spans = timeline.widen(spans, margin_s, 0.0, audio.duration_s)
    sample_spans = [(s.start_s, s.end_s) for s in blanked_spans]
    with AudioWriter(target, audio.sample_rate, audio.channels) as writer:
        first = 0
        for block in audio.blocks():
            writer.write(blank_spans(block, audio.sample_rate, sample_spans, options.mode, first))
            first += block.shape[1]
    source = Path(audio.path)
    if options.replace_original and target != source:
        source.unlink()
    return RedactedAudio(str(target.resolve()), file_sha256(target))  # the review app may start elsewhere


def redacted_target(audio: AudioSource, call_id: str, options: RedactedAudioOptions, directory: Path | None) -> Path | None:
    """Where the copy goes: over the original, or ``<directory>/<call_id>.flac``; None when not written."""
    if not options.enabled:
        return None
    if options.replace_original:
        return Path(audio.path).with_suffix(".flac")
    return directory / f"{call_id}.flac" if directory else None
