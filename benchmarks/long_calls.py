"""Long calls in bounded memory: peak resident memory and real-time factor of `callqa run` on calls
of 5 to 240 minutes, side by side with bare faster-whisper on the same files.

The calls are built at run time, in a temporary folder, from the shared real dual-channel calls
(../shared/eval: the Harper Valley bank calls and the AWS call, 8 kHz, agent left, caller right)
played back to back until the length is reached; nothing is copied into the project.

Each run is a new process measured from outside (peak resident set size from ``wait4``). Both
sides first hear one short call, so the model is loaded and warm; the real-time factor is the
long call's own processing time (``calls.processing_s`` for callqa, the transcription loop for
the bare run) over its length. The bare run is faster-whisper's batched pipeline with its own
VAD filter on the file as faster-whisper decodes it (the two channels mixed to one), with the
same model and ASR options as callqa.

    .venv/bin/python benchmarks/long_calls.py [--lengths 5 30 60] [--model whisper-base]
        [--plot docs/long_calls_memory.png] [--json out.json] [--project OTHER_CHECKOUT] [--no-bare]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's pipeline (the bare run's model paths)
SHARED_EVAL = PROJECT.parent / "shared" / "eval"
DEFAULT_LENGTHS_MIN = (5, 30, 60, 120, 240)


@dataclass
class Measured:
    """One process: its wall time, peak resident memory and the long call's processing time."""

    wall_s: float
    peak_rss_gb: float
    processing_s: float | None
    returncode: int


@dataclass
class Row:
    """One call length: every round's callqa process and bare process."""

    minutes: float
    audio_s: float
    callqa: list[Measured]
    bare: list[Measured]

    @property
    def callqa_peak_gb(self) -> float:
        return statistics.median(run.peak_rss_gb for run in self.callqa)

    @property
    def bare_peak_gb(self) -> float | None:
        return statistics.median(run.peak_rss_gb for run in self.bare) if self.bare else None

    @property
    def callqa_rtf(self) -> float | None:
        return self._median_rtf(self.callqa)

    @property
    def bare_rtf(self) -> float | None:
        return self._median_rtf(self.bare)

    def _median_rtf(self, runs: list[Measured]) -> float | None:
        """Median over the rounds; none when any round failed to give its processing time."""
        if not runs or any(not run.processing_s for run in runs):
            return None
        return statistics.median(run.processing_s / self.audio_s for run in runs)


def shared_dual_channel_calls(eval_dir: Path = SHARED_EVAL) -> list[Path]:
    """The real dual-channel 8 kHz calls: Harper Valley bank calls, then the AWS call."""
    calls = sorted((eval_dir / "harper-valley").glob("*.agentL_callerR.flac"))
    calls += sorted((eval_dir / "aws-live-call-analytics").glob("*.agentL_callerR.flac"))
    if not calls:
        sys.exit(
            f"no shared dual-channel calls under {eval_dir} (../shared/eval beside the project)"
        )
    return calls


def build_long_call(sources: list[Path], minutes: float, target: Path) -> Path:
    """The sources played back to back, over and over, cut at ``minutes``: one 8 kHz stereo FLAC."""
    import soundfile as sf

    wanted_s = minutes * 60.0
    listing, total_s = [], 0.0
    while total_s < wanted_s:
        for source in sources:
            listing.append(f"file '{source.resolve()}'")
            total_s += sf.info(str(source)).duration
            if total_s >= wanted_s:
                break
    playlist = target.with_suffix(".txt")
    playlist.write_text("\n".join(listing) + "\n")
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(playlist),
        "-t", f"{wanted_s:.3f}", "-c:a", "flac", str(target),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    playlist.unlink()
    return target


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run ``command``; its wall time, peak resident memory (GB), exit code and output."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    return wall_s, usage.ru_maxrss / 1024**2, process.returncode, text


def run_callqa(project: Path, warmup: Path, call: Path, model: str, workdir: Path) -> Measured:
    import duckdb

    # a database of its own each time: a call already stored would be skipped, not measured
    db = Path(tempfile.mkdtemp(prefix=f"{call.stem}-", dir=workdir)) / "calls.duckdb"
    command = [sys.executable, "-m", "pipeline.cli", "run", str(warmup), str(call), "--db", str(db)]
    command += ["--model", model, "-q"]
    wall_s, peak_gb, code, output = measure(command, project, project_environment(project))
    if code != 0:
        print(f"callqa run exited {code}:\n{output[-3000:]}", file=sys.stderr)
    processing_s = None
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            row = con.execute(
                "SELECT processing_s FROM calls WHERE source_path = ? AND status = 'done'",
                [str(call)],
            ).fetchone()
        processing_s = row[0] if row else None
    return Measured(wall_s, peak_gb, processing_s, code)


def run_bare(project: Path, warmup: Path, call: Path, model: str) -> Measured:
    command = [sys.executable, str(Path(__file__).resolve()), "--bare", str(warmup), str(call)]
    command += ["--model", model]
    wall_s, peak_gb, code, output = measure(command, project, project_environment(project))
    processing_s = None
    for line in output.splitlines():
        if line.startswith("bare_processing_s="):
            processing_s = float(line.split("=", 1)[1])
    if code != 0:
        print(f"bare faster-whisper exited {code}:\n{output[-3000:]}", file=sys.stderr)
    return Measured(wall_s, peak_gb, processing_s, code)


def bare_transcriber(model: str | None):
    """faster-whisper alone with callqa's model and ASR options: a function from a file to its
    word count."""
    return bare_transcribers(model, 1)[0]


def bare_transcribers(model: str | None, parallel_batches: int) -> list:
    """``parallel_batches`` such functions over one faster-whisper model loaded to decode that many
    batches at once, each with its own batched pipeline (one per thread), the batch size and the
    threads shared out among them as callqa shares them."""
    from pipeline.config import load_settings
    from pipeline.models import Models

    settings = load_settings(asr={"model": model} if model else None)
    asr = settings.asr.model_copy(update={"parallel_batches": parallel_batches})
    models = Models(settings.models_dir, asr)
    batch_size = asr.resolved_call_batch_size()
    common = {
        "language": asr.language,
        "beam_size": asr.beam_size,
        "word_timestamps": True,
        "condition_on_previous_text": False,
        "vad_filter": True,
    }

    def transcriber():
        whisper, batched = models.bare_whisper(parallel_batches)

        def transcribe(path: Path) -> int:
            if batched is not None:
                segments, _ = batched.transcribe(str(path), batch_size=batch_size, **common)
            else:
                segments, _ = whisper.transcribe(str(path), **common)
            return sum(len(segment.words or []) for segment in segments)

        return transcribe

    return [transcriber() for _ in range(parallel_batches)]


def bare_faster_whisper(warmup: Path, call: Path, model: str) -> None:
    """In its own process: faster-whisper alone, warmed up on ``warmup``, then timed on ``call``."""
    transcribe = bare_transcriber(model)
    transcribe(warmup)
    started = time.perf_counter()
    words = transcribe(call)
    print(f"bare_processing_s={time.perf_counter() - started:.3f}")
    print(f"bare_words={words}")


def bare_faster_whisper_files(files: list[Path], model: str | None) -> None:
    """In its own process: faster-whisper alone over ``files``, one after another."""
    transcribe = bare_transcriber(model)
    words = sum(transcribe(path) for path in files)
    print(f"bare_words={words}")


def project_environment(project: Path) -> dict[str, str]:
    """This environment with ``project`` first on PYTHONPATH: child processes run its pipeline."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(project) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    return env


def print_table(rows: list[Row], model: str, project: Path) -> None:
    print(
        f"`callqa run` ({project.name}) vs bare faster-whisper, model {model}, 2-channel 8 kHz calls built "
        "from the shared real calls; peak = peak resident memory of the process; RTF = processing time / call length"
    )
    rounds = len(rows[0].callqa) if rows else 0
    if rounds > 1:
        print(f"medians of {rounds} rounds, range (lowest-highest) beside the peaks")
    header = (
        f"{'call':>8} | {'callqa peak GB':>18} | {'callqa RTF':>10} | {'bare peak GB':>18} | "
        f"{'bare RTF':>8} | {'vs first':>8}"
    )
    print(header)
    print("-" * len(header))
    first = rows[0].callqa_peak_gb if rows else None
    for row in rows:
        bare_peak = peak_cell(row.bare_peak_gb, row.bare)
        bare_rtf = f"{row.bare_rtf:.3f}" if row.bare_rtf else "-"
        rtf = f"{row.callqa_rtf:.3f}" if row.callqa_rtf else "failed"
        growth = f"{row.callqa_peak_gb / first - 1:+.1%}" if first else "-"
        print(
            f"{row.minutes:>6.0f} m | {peak_cell(row.callqa_peak_gb, row.callqa):>18} | {rtf:>10} | "
            f"{bare_peak:>18} | {bare_rtf:>8} | {growth:>8}"
        )


def peak_cell(median: float | None, runs: list[Measured]) -> str:
    """The median peak, with the range over the rounds when there were several."""
    if median is None:
        return "-"
    if len(runs) < 2:
        return f"{median:.2f}"
    peaks = [run.peak_rss_gb for run in runs]
    return f"{median:.2f} ({min(peaks):.2f}-{max(peaks):.2f})"


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [row.minutes for row in rows]
    figure, axis = plt.subplots(figsize=(5.5, 3.2), dpi=120)
    axis.plot(minutes, [row.callqa_peak_gb for row in rows], "o-", label="callqa run")
    bare = [(row.minutes, row.bare_peak_gb) for row in rows if row.bare]
    if bare:
        axis.plot(*zip(*bare), "s--", label="bare faster-whisper")
    axis.axhline(2.0, color="grey", linewidth=0.8, linestyle=":", label="2 GB budget")
    axis.set_xlabel("call length (minutes)")
    axis.set_ylabel("peak resident memory (GB)")
    axis.set_ylim(bottom=0)
    axis.legend(frameon=False, fontsize=8)
    axis.set_title("Memory against call length (2-channel, 8 kHz)", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lengths", type=float, nargs="+", default=list(DEFAULT_LENGTHS_MIN), help="minutes"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="times each length is measured (the lengths in turn)"
    )
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument(
        "--project", type=Path, default=PROJECT, help="checkout whose `callqa run` is measured"
    )
    parser.add_argument(
        "--no-bare", action="store_true", help="leave out the bare faster-whisper runs"
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="PNG of peak memory against call length"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument(
        "--bare", nargs=2, type=Path, metavar=("WARMUP", "CALL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.bare:
        bare_faster_whisper(*args.bare, args.model)
        return

    import soundfile as sf

    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    sources = shared_dual_channel_calls()
    project = args.project.resolve()
    with tempfile.TemporaryDirectory(prefix="callqa-long-calls-") as folder:
        workdir = Path(folder)
        calls, rows = [], []
        for minutes in args.lengths:
            calls.append(build_long_call(sources, minutes, workdir / f"long_{minutes:g}min.flac"))
            rows.append(Row(minutes, sf.info(str(calls[-1])).duration, [], []))
        # the lengths in turn each round, so a slow or busy spell of the machine spreads over all
        for round_number in range(1, args.rounds + 1):
            for row, call in zip(rows, calls):
                step = f"{row.minutes:g} min, round {round_number}/{args.rounds}"
                print(f"{step}: callqa run ...", file=sys.stderr, flush=True)
                row.callqa.append(run_callqa(project, sources[0], call, args.model, workdir))
                if not args.no_bare:
                    print(f"{step}: bare faster-whisper ...", file=sys.stderr, flush=True)
                    row.bare.append(run_bare(project, sources[0], call, args.model))
                measured = {"callqa": asdict(row.callqa[-1])}
                if row.bare:
                    measured["bare"] = asdict(row.bare[-1])
                print(f"{step}: {json.dumps(measured)}", file=sys.stderr, flush=True)
    print()
    print_table(rows, args.model, project)
    if args.plot:
        plot(rows, args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    asdict(row)
                    | {
                        "callqa_peak_gb": row.callqa_peak_gb,
                        "bare_peak_gb": row.bare_peak_gb,
                        "callqa_rtf": row.callqa_rtf,
                        "bare_rtf": row.bare_rtf,
                    }
                    for row in rows
                ],
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
