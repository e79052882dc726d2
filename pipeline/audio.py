"""Decode a recording once, resample once to the models' rate, keep the channel layout.

A call is decoded in blocks into a spool file (``SpooledAudio``): float32 at 16 kHz, channels
interleaved, in an unnamed temporary file that disappears with the process, even when it is
killed. The stages read the blocks and spans they need from it, so a 4-hour call costs no more
memory than a 4-minute one; ``load_audio`` reads a whole call into memory for tools and tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Self

import numpy as np
from pydantic import BaseModel, Field

from pipeline.digest import file_sha256
from pipeline.types import DEFAULT_BLOCK_FRAMES, Audio, block_length

__all__ = [
    "AudioError",
    "AudioOptions",
    "SpooledAudio",
    "decode_to_spool",
    "file_sha256",
    "load_audio",
]

MODEL_SAMPLE_RATE = 16_000
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".flac",
        ".mp3",
        ".ogg",
        ".opus",
        ".m4a",
        ".aac",
        ".wma",
        ".webm",
        ".au",
        ".aiff",
        ".aif",
    }
)
MIN_SOURCE_RATE_HZ = 8_000
MAX_CHANNELS = 2
# A header may round the length; anything shorter than this is a cut-off file, not rounding.
TRUNCATION_TOLERANCE_S = 0.5
SAMPLE_BYTES = 4  # float32
READ_BYTES = 1 << 20  # ffmpeg's output is taken in pieces of this size


class AudioOptions(BaseModel):
    """How a call's audio is held while the stages work on it."""

    block_s: float = Field(
        60.0,
        gt=0.0,
        description="audio a streaming stage holds at a time (speech detection, embeddings, redacted copy)",
    )
    spool_dir: Path | None = Field(
        None,
        description="where each decoded call waits on disk while it is processed (default: the system's temporary "
        "folder); it takes 230 MB per hour of each channel",
    )


class AudioError(Exception):
    """A recording that cannot be used, with the file and the reason in the message."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def probe(path: str | Path) -> dict:
    """ffprobe's view of the first audio stream: channels, sample_rate, duration_s, format."""
    cmd = [
        "ffprobe", "-v", "error", "-select_streams", "a:0",
        "-show_entries", "stream=channels,sample_rate,codec_name,duration,duration_ts,time_base:format=format_name,duration",
        "-of", "json", str(path),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AudioError(
            path, f"not a decodable audio file ({_first_line(result.stderr) or 'ffprobe failed'})"
        )
    info = json.loads(result.stdout or "{}")
    streams = info.get("streams") or []
    if not streams:
        raise AudioError(path, "no audio stream in the file (not an audio recording?)")
    stream = streams[0]
    duration = stream.get("duration") or info.get("format", {}).get("duration")
    return {
        "channels": int(stream.get("channels") or 0),
        "sample_rate": int(stream.get("sample_rate") or 0),
        "codec": stream.get("codec_name", ""),
        "format": info.get("format", {}).get("format_name", ""),
        "duration_s": float(duration) if duration not in (None, "N/A") else None,
    }


@dataclass(frozen=True)
class SpooledAudio:
    """A decoded call on disk: float32 at 16 kHz, read by span or block, never all at once.

    ``channels`` are the ones this view reads (``select`` narrows it, e.g. to the one channel of a
    stereo file carrying a mono call twice). Statistics every call needs are taken while decoding:
    the peak level and whether the two channels carry the same signal.
    """

    path: str
    sha256: str
    sample_rate: int
    source_sample_rate: int
    source_format: str
    frames: int
    stored_channels: int
    peak_dbfs: float
    dual_mono: bool
    spool: BinaryIO = field(repr=False, compare=False)
    channel_ids: tuple[int, ...] = ()
    block_frames: int = DEFAULT_BLOCK_FRAMES

    def __post_init__(self):
        if not self.channel_ids:
            object.__setattr__(self, "channel_ids", tuple(range(self.stored_channels)))

    @property
    def channels(self) -> int:
        return len(self.channel_ids)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def select(self, channel_ids: tuple[int, ...]) -> SpooledAudio:
        """The same spool, reading only ``channel_ids`` (of the stored channels)."""
        return replace(self, channel_ids=tuple(channel_ids))

    def read(
        self, first_frame: int = 0, last_frame: int | None = None, channel: int | None = None
    ) -> np.ndarray:
        """Samples [first_frame, last_frame) as (channels, frames) float32, or one channel's as (frames,)."""
        first = max(0, first_frame)
        last = self.frames if last_frame is None else min(last_frame, self.frames)
        count = max(0, last - first)
        stride = self.stored_channels
        raw = _pread(
            self.spool.fileno(), count * stride * SAMPLE_BYTES, first * stride * SAMPLE_BYTES
        )
        interleaved = np.frombuffer(raw, dtype="<f4").reshape(count, stride)
        if channel is not None:
            return interleaved[:, self.channel_ids[channel]].copy()
        if self.channel_ids == tuple(range(stride)):
            return interleaved.T.copy()
        return interleaved[:, list(self.channel_ids)].T.copy()

    def blocks(self, multiple_of: int = 1) -> Iterator[np.ndarray]:
        """Consecutive (channels, n) pieces of about ``block_frames``, n a multiple of ``multiple_of``
        except in the last one."""
        step = block_length(self.block_frames, multiple_of)
        for first in range(0, self.frames, step):
            yield self.read(first, first + step)

    def load(self) -> Audio:
        """The whole call in memory (tools, tests, and backends that need the waveform at once)."""
        return Audio(
            path=self.path,
            sha256=self.sha256,
            samples=self.read(),
            sample_rate=self.sample_rate,
            source_sample_rate=self.source_sample_rate,
            source_format=self.source_format,
        )

    def close(self) -> None:
        self.spool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pread(fd: int, size: int, offset: int) -> bytes:
    parts, done = [], 0
    while done < size:
        part = os.pread(fd, size - done, offset + done)
        if not part:
            break
        parts.append(part)
        done += len(part)
    return b"".join(parts)


def load_audio(
    path: str | Path, max_duration_s: float = 4 * 3600.0, sha256: str | None = None
) -> Audio:
    """Decode ``path`` to float32 (channels, frames) at 16 kHz in memory, or raise AudioError saying why not."""
    with decode_to_spool(path, max_duration_s, sha256) as spooled:
        return spooled.load()


def decode_to_spool(
    path: str | Path,
    max_duration_s: float = 4 * 3600.0,
    sha256: str | None = None,
    options: AudioOptions | None = None,
) -> SpooledAudio:
    """Decode ``path`` block by block to a spool file (float32, 16 kHz, channels kept), or raise
    AudioError saying why not. Close the result (or use it in a ``with``) to free the disk."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "file not found or not a regular file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(path, f"cannot read file: {exc.strerror}") from exc
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        digest = sha256 or file_sha256(path)
    except OSError as exc:
        raise AudioError(path, f"cannot read file: {exc.strerror}") from exc

    info = probe(path)
    channels, source_rate = info["channels"], info["sample_rate"]
    if channels < 1:
        raise AudioError(path, "not a decodable audio file (its audio stream reports no channels)")
    if channels > MAX_CHANNELS:
        raise AudioError(
            path,
            f"has {channels} channels; only mono or 2-channel (agent/customer) calls are supported",
        )
    if source_rate < MIN_SOURCE_RATE_HZ:
        raise AudioError(
            path,
            f"sample rate {source_rate} Hz is below the {MIN_SOURCE_RATE_HZ} Hz telephony minimum",
        )
    header_duration = _wav_header_duration_s(path) or info["duration_s"]
    if header_duration is not None and header_duration > max_duration_s:
        raise AudioError(
            path,
            f"{header_duration / 3600:.1f} h long; the limit is {max_duration_s / 3600:.1f} h (max_duration_s)",
        )

    # unnamed: the file is gone with the process, however it ends; closed by the caller
    options = options or AudioOptions()
    spool = tempfile.TemporaryFile(dir=options.spool_dir)  # noqa: SIM115
    try:
        stats, stderr = _decode(path, channels, max_duration_s, spool)
        frames = stats.frames
        if frames == 0:
            raise AudioError(
                path, f"no decodable audio samples (zero length or corrupt){_suffix(stderr)}"
            )
        decoded_s = frames / MODEL_SAMPLE_RATE
        if decoded_s > max_duration_s:
            raise AudioError(
                path, f"longer than the {max_duration_s / 3600:.1f} h limit (max_duration_s)"
            )
        if header_duration is not None and decoded_s < header_duration - TRUNCATION_TOLERANCE_S:
            raise AudioError(
                path,
                f"truncated: the header says {header_duration:.1f} s but only {decoded_s:.1f} s decode{_suffix(stderr)}",
            )
        if not stats.finite:
            raise AudioError(path, "decoded samples contain NaN or infinity (corrupt file)")
    except BaseException:
        spool.close()
        raise
    return SpooledAudio(
        path=str(path),
        sha256=digest,
        sample_rate=MODEL_SAMPLE_RATE,
        source_sample_rate=source_rate,
        source_format=info["codec"] or info["format"],
        frames=frames,
        stored_channels=channels,
        peak_dbfs=stats.peak_dbfs,
        dual_mono=stats.dual_mono(),
        spool=spool,
        block_frames=max(1, int(options.block_s * MODEL_SAMPLE_RATE)),
    )


class _DecodeStats:
    """What a call's checks need from all of its samples, gathered block by block while decoding."""

    def __init__(self, channels: int):
        self.channels = channels
        self.frames = 0
        self.peak = 0.0
        self.finite = True
        self.dot = 0.0
        self.energy = np.zeros(channels)

    def add(self, block: np.ndarray) -> None:
        """``block`` is (frames, channels) as decoded."""
        if not block.size:
            return
        self.frames += block.shape[0]
        self.finite &= bool(np.isfinite(block).all())
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        if self.channels == 2:
            wide = block.astype(np.float64)
            self.dot += float(np.dot(wide[:, 0], wide[:, 1]))
            self.energy += np.einsum("ij,ij->j", wide, wide)

    @property
    def peak_dbfs(self) -> float:
        return 20 * np.log10(self.peak) if self.peak > 0 else float("-inf")

    def dual_mono(self, min_correlation: float = 0.95) -> bool:
        """The same test as ``is_dual_mono``, from the sums gathered over the call."""
        if self.channels != 2:
            return False
        left_norm, right_norm = np.sqrt(self.energy)
        if left_norm == 0.0 or right_norm == 0.0:
            return left_norm == right_norm
        return float(self.dot / (left_norm * right_norm)) >= min_correlation


def _decode(
    path: Path, channels: int, max_duration_s: float, spool: BinaryIO
) -> tuple[_DecodeStats, str]:
    # -t bounds the work on an enormous file; one extra second tells "too long" from "at the limit".
    cmd = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
        "-t", f"{max_duration_s + 1.0:.3f}", "-ac", str(channels), "-ar", str(MODEL_SAMPLE_RATE),
        "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    frame_bytes = channels * SAMPLE_BYTES
    stats = _DecodeStats(channels)
    # ffmpeg's messages go to a file: a corrupt file's flood of them can never fill a pipe and stall it
    with tempfile.TemporaryFile() as messages:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=messages)
        pending = b""
        try:
            while chunk := process.stdout.read(READ_BYTES):
                pending += chunk
                whole = len(pending) - len(pending) % frame_bytes
                if whole:
                    spool.write(pending[:whole])
                    stats.add(np.frombuffer(pending[:whole], dtype="<f4").reshape(-1, channels))
                    pending = pending[whole:]
        finally:
            process.stdout.close()
            returncode = process.wait()
        messages.seek(0)
        stderr = messages.read().decode("utf-8", "replace")
    spool.flush()
    if returncode != 0 and stats.frames == 0:
        raise AudioError(path, f"cannot decode audio ({_first_line(stderr) or 'ffmpeg failed'})")
    return stats, stderr


def _wav_header_duration_s(path: Path) -> float | None:
    """Length a RIFF/WAVE header promises (ffprobe measures the bytes present instead)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, None
    while offset + 8 <= len(head):
        chunk_id, size = (
            head[offset : offset + 4],
            int.from_bytes(head[offset + 4 : offset + 8], "little"),
        )
        if chunk_id == b"fmt " and offset + 16 <= len(head):
            byte_rate = int.from_bytes(head[offset + 16 : offset + 20], "little")
        elif chunk_id == b"data":
            # 0 and 0xFFFFFFFF mark a stream written without knowing its length
            if not byte_rate or size in (0, 0xFFFFFFFF):
                return None
            return size / byte_rate
        offset += 8 + size + (size & 1)
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _suffix(stderr: str) -> str:
    line = _first_line(stderr)
    return f" (ffmpeg: {line})" if line else ""


def discover(paths: list[str]) -> list[Path]:
    """Expand files, folders (recursively) and globs into a sorted list of candidate recordings.

    Folders contribute only files with an audio extension; files named explicitly are always
    tried (a mis-named file then fails with a reason instead of being silently ignored).
    """
    import glob

    found: dict[str, Path] = {}
    for item in paths:
        matches = glob.glob(item, recursive=True) if any(ch in item for ch in "*?[") else [item]
        if not matches:
            found[item] = Path(item)  # reported later as not found
        for match in matches:
            candidate = Path(match)
            if candidate.is_dir():
                for child in sorted(candidate.rglob("*")):
                    if child.is_file() and child.suffix.lower() in AUDIO_EXTENSIONS:
                        found[str(child.resolve())] = child
            else:
                key = str(candidate.resolve()) if candidate.exists() else str(candidate)
                found[key] = candidate
    return sorted(found.values(), key=lambda p: str(p))


def is_dual_mono(samples: np.ndarray, min_correlation: float = 0.95) -> bool:
    """True when a 2-channel file carries one mixed signal twice (a mono call saved as stereo)."""
    if samples.shape[0] != 2:
        return False
    left, right = samples[0].astype(np.float64), samples[1].astype(np.float64)
    left_norm, right_norm = np.linalg.norm(left), np.linalg.norm(right)
    if left_norm == 0.0 or right_norm == 0.0:
        return left_norm == right_norm
    return float(np.dot(left, right) / (left_norm * right_norm)) >= min_correlation


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def blank_spans(
    samples: np.ndarray,
    sample_rate: int,
    spans: list[tuple[float, float]],
    mode: str = "silence",
    first_frame: int = 0,
) -> np.ndarray:
    """A copy of ``samples`` (channels, frames) with every span silenced or replaced by a 1 kHz tone.

    ``samples`` may be one block of a call starting at ``first_frame``: spans are in call time,
    and a tone runs on across blocks as it would over the whole call.
    """
    out = samples.copy()
    block_end = first_frame + out.shape[1]
    for start_s, end_s in spans:
        first, last = int(start_s * sample_rate), int(np.ceil(end_s * sample_rate))
        lo, hi = max(first, first_frame), min(last, block_end)
        if hi <= lo:
            continue
        if mode == "tone":
            t = np.arange(lo - first, hi - first) / sample_rate
            out[:, lo - first_frame : hi - first_frame] = (0.1 * np.sin(2 * np.pi * 1000.0 * t)).astype(out.dtype)
        else:
            out[:, lo - first_frame : hi - first_frame] = 0.0
    return out


class AudioWriter:
    """Writes (channels, frames) float blocks as one 16-bit FLAC file, atomically: the file appears
    under its name only once it is complete (a partial file never remains)."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int):
        import soundfile as sf

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self.file = sf.SoundFile(
            self.partial, "w", sample_rate, channels, format="FLAC", subtype="PCM_16"
        )

    def write(self, samples: np.ndarray) -> None:
        self.file.write(np.clip(samples.T, -1.0, 1.0))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.file.close()
        if exc_type is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)

