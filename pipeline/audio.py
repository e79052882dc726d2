"""Decode a recording once, resample once to the models' rate, keep the channel layout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from pipeline.digest import file_sha256
from pipeline.types import Audio

__all__ = ["AudioError", "file_sha256", "load_audio"]

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


def load_audio(
    path: str | Path, max_duration_s: float = 4 * 3600.0, sha256: str | None = None
) -> Audio:
    """Decode ``path`` to float32 (channels, frames) at 16 kHz, or raise AudioError saying why not."""
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

    samples, stderr = _decode(path, channels, max_duration_s)
    frames = samples.shape[1]
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
    if not np.isfinite(samples).all():
        raise AudioError(path, "decoded samples contain NaN or infinity (corrupt file)")
    return Audio(
        path=str(path),
        sha256=digest,
        samples=samples,
        sample_rate=MODEL_SAMPLE_RATE,
        source_sample_rate=source_rate,
        source_format=info["codec"] or info["format"],
    )


def _decode(path: Path, channels: int, max_duration_s: float) -> tuple[np.ndarray, str]:
    # -t bounds the work on an enormous file; one extra second tells "too long" from "at the limit".
    cmd = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
        "-t", f"{max_duration_s + 1.0:.3f}", "-ac", str(channels), "-ar", str(MODEL_SAMPLE_RATE),
        "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True)
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 and not result.stdout:
        raise AudioError(path, f"cannot decode audio ({_first_line(stderr) or 'ffmpeg failed'})")
    flat = np.frombuffer(result.stdout, dtype="<f4")
    flat = flat[: len(flat) - len(flat) % channels]
    return flat.reshape(-1, channels).T.copy(), stderr


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
    samples: np.ndarray, sample_rate: int, spans: list[tuple[float, float]], mode: str = "silence"
) -> np.ndarray:
    """A copy of ``samples`` (channels, frames) with every span silenced or replaced by a 1 kHz tone."""
    out = samples.copy()
    for start_s, end_s in spans:
        first, last = int(start_s * sample_rate), min(out.shape[1], int(np.ceil(end_s * sample_rate)))
        if last <= first:
            continue
        if mode == "tone":
            t = np.arange(last - first) / sample_rate
            out[:, first:last] = (0.1 * np.sin(2 * np.pi * 1000.0 * t)).astype(out.dtype)
        else:
            out[:, first:last] = 0.0
    return out


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write (channels, frames) float audio as 16-bit FLAC, atomically (a partial file never remains)."""
    import os

    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    sf.write(partial, np.clip(samples.T, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    os.replace(partial, path)
