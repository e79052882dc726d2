"""Scale: bare faster-whisper, `callqa run` with 1 and 2 local workers, and Ray on this machine,
side by side on the same calls; then a batch of many distinct calls (calls per hour, peak memory
per worker) and a throughput curve.

Every run is a fresh process (models loaded inside it, as a nightly cron job pays), timed from
outside; its peak memory per worker is the largest resident set of any one process in its tree,
sampled every 0.2 s (Ray's actors are not children the driver waits for, so ``wait4`` cannot see
them). Rounds alternate the configurations so machine noise hits all alike; medians are reported.

The calls: ``audio_samples/`` and the shared real dual-channel calls (../shared/eval, found beside
the project). The batch (``--batch-calls N``) is N distinct recordings of varied lengths (20 s to
6 min) cut from those same calls at different offsets, built in a temporary folder: distinct
content, so no call is skipped as already stored.

    .venv/bin/python benchmarks/scale.py [--rounds 3] [--configs bare local1 local2 ray1]
        [--batch-calls 40 [--batch-config local1 ray1]] [--plot docs/scale_throughput.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from benchmarks.long_calls import (  # noqa: E402
    bare_faster_whisper_files,
    bare_transcribers,
    project_environment,
    shared_dual_channel_calls,
)

# name -> the `callqa run` options that make it (None: bare faster-whisper)
CONFIGS: dict[str, list[str] | None] = {
    "bare": None,  # faster-whisper as a user runs it: one file after another, one batch at a time
    "bare2": None,  # the same with two batches at once on one model, as callqa's worker runs them
    "local1": [],  # one process, calls overlapping through its lanes
    "local2": ["--workers", "2"],  # two worker processes
    "ray1": ["--engine", "ray", "--workers", "1"],  # one Ray actor on a Ray instance started here
    "ray2": ["--engine", "ray", "--workers", "2"],
}
WORKERS = {"bare": 1, "bare2": 1, "local1": 1, "local2": 2, "ray1": 1, "ray2": 2}


@dataclass
class Run:
    config: str
    round: int
    wall_s: float
    peak_worker_gb: float
    returncode: int


def measure(command: list[str]) -> tuple[float, float, int, str]:
    """Wall time, the largest resident set of any one process in the command's tree (GB), exit
    code and output."""
    peak = [0]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT, env=project_environment(PROJECT), stdout=output, stderr=subprocess.STDOUT)
        root = psutil.Process(process.pid)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    return
                for member in tree:
                    try:
                        peak[0] = max(peak[0], member.memory_info().rss)
                    except psutil.Error:
                        pass
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        done.set()
        sampler.join()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    # wait4 sees the driver and the children it waited for; the sampler sees the rest
    peak_bytes = max(peak[0], usage.ru_maxrss * 1024)
    return wall_s, peak_bytes / 1024**3, os.waitstatus_to_exitcode(status), text


def run_config(config: str, files: list[Path], workdir: Path, round_: int, model: str | None) -> Run:
    options = CONFIGS[config]
    if options is None:
        parallel = "2" if config == "bare2" else "1"
        command = [sys.executable, str(Path(__file__).resolve()), "--bare-parallel", parallel, "--bare", *map(str, files)]
    else:
        db = workdir / f"{config}-{round_}.duckdb"
        command = [sys.executable, "-m", "pipeline.cli", "run", *map(str, files), "--db", str(db), "-q", *options]
    if model:
        command += ["--model", model]
    wall_s, peak_gb, code, output = measure(command)
    if code != 0:
        print(f"{config} exited {code}:\n{output[-3000:]}", file=sys.stderr)
    return Run(config, round_, round(wall_s, 2), round(peak_gb, 3), code)


def bare_files(files: list[Path], model: str | None, parallel_batches: int) -> None:
    """In its own process: bare faster-whisper over ``files`` with callqa's ASR options, one file
    after another, or ``parallel_batches`` threads taking the next file each on one model loaded
    with that many workers (CTranslate2 inter_threads), the cores shared out among them."""
    if parallel_batches == 1:
        bare_faster_whisper_files(files, model)
        return
    left = list(files)
    lock = threading.Lock()
    words = [0]

    def work(transcribe) -> None:
        while True:
            with lock:
                if not left:
                    return
                path = left.pop(0)
            heard = transcribe(path)
            with lock:
                words[0] += heard

    threads = [threading.Thread(target=work, args=(t,)) for t in bare_transcribers(model, parallel_batches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"bare_words={words[0]}")


def calls_of(paths: list[str]) -> list[Path]:
    from pipeline.audio import discover

    return [Path(p) for p in discover(paths)]


def audio_seconds(files: list[Path]) -> float:
    import soundfile as sf

    return sum(sf.info(str(f)).duration for f in files)


def build_batch(sources: list[Path], count: int, folder: Path, seed: int = 16) -> list[Path]:
    """``count`` distinct calls, each a stretch of 20 s to 6 min cut from one source at a random
    offset (short sources are looped), at the source's own rate and channels."""
    import soundfile as sf

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    calls = []
    for index in range(count):
        source = rng.choice(sources)
        source_s = sf.info(str(source)).duration
        length_s = rng.choice([rng.uniform(20, 90), rng.uniform(90, 240), rng.uniform(240, 360)])
        offset_s = rng.uniform(0, max(0.0, source_s - 5))
        target = folder / f"call_{index:04d}.wav"  # WAV: FLAC's muxer complains of looped input's timestamps
        command = [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-ss", f"{offset_s:.2f}",
            "-i", str(source), "-t", f"{length_s:.2f}", str(target),
        ]  # fmt: skip
        subprocess.run(command, check=True)
        calls.append(target)
    return calls


def print_table(runs: list[Run], audio_s: float, files: int) -> dict[str, float]:
    configs = list(dict.fromkeys(run.config for run in runs))
    medians = {c: statistics.median(r.wall_s for r in runs if r.config == c) for c in configs}
    peaks = {c: max(r.peak_worker_gb for r in runs if r.config == c) for c in configs}
    print(f"{files} calls, {audio_s / 60:.1f} min of audio; {len(runs) // len(configs)} alternating rounds; "
          "wall = whole process, models loaded inside")  # fmt: skip
    header = f"{'run':<8}{'workers':>8}{'median wall s':>15}{'audio h / wall h':>18}{'vs bare':>9}{'vs bare2':>10}{'peak GB/worker':>16}   rounds (s)"
    print(header)
    print("-" * len(header))
    for config in configs:
        rounds = "  ".join(f"{r.wall_s:.1f}" for r in runs if r.config == config)
        vs_bare = f"{medians[config] / medians['bare']:.3f}" if "bare" in medians else "-"
        vs_bare2 = f"{medians[config] / medians['bare2']:.3f}" if "bare2" in medians else "-"
        print(f"{config:<8}{WORKERS[config]:>8}{medians[config]:>15.1f}{audio_s / medians[config]:>18.1f}"
              f"{vs_bare:>9}{vs_bare2:>10}{peaks[config]:>16.2f}   {rounds}")  # fmt: skip
    for ray, local in (("ray1", "local1"), ("ray2", "local2")):
        if ray in medians and local in medians:
            print(f"Ray on this machine / local run ({ray} / {local}): {medians[ray] / medians[local]:.3f}  (target <= 1.15)")
    failed = [r for r in runs if r.returncode != 0]
    if failed:
        print(f"FAILED runs: {[(r.config, r.round, r.returncode) for r in failed]}")
    return medians


def plot(medians: dict[str, float], audio_s: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.2), dpi=120)
    for prefix, label, marker in (("local", "callqa run, local workers", "o-"), ("ray", "callqa run --engine ray", "s--")):
        points = sorted((WORKERS[c], audio_s / m) for c, m in medians.items() if c.startswith(prefix))
        if points:
            axis.plot(*zip(*points), marker, label=label)
    if "bare" in medians:
        axis.axhline(audio_s / medians["bare"], color="grey", linewidth=0.8, linestyle=":", label="bare faster-whisper")
    if "bare2" in medians:
        axis.axhline(audio_s / medians["bare2"], color="grey", linewidth=0.8, linestyle="--",
                     label="bare faster-whisper, 2 batches at once")  # fmt: skip
    axis.set_xlabel("workers")
    axis.set_ylabel("audio hours per wall hour")
    axis.set_xticks(sorted({WORKERS[c] for c in medians}))
    axis.set_ylim(bottom=0)
    axis.legend(frameon=False, fontsize=8)
    axis.set_title(f"Throughput on {os.cpu_count()} CPU cores", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=None, help="calls (default: audio_samples/ and the shared real calls)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=["bare", "bare2", "local1", "local2", "ray1"], choices=list(CONFIGS))
    parser.add_argument("--model", default=None, help="ASR model (default: the settings' default)")
    parser.add_argument("--batch-calls", type=int, default=0, help="also run a batch of this many distinct calls")
    parser.add_argument("--batch-config", nargs="+", default=["local1"], choices=[c for c, options in CONFIGS.items() if options is not None],
                        help="configurations the batch runs under, one after another (e.g. local1 ray1: Ray's overhead on many calls)")  # fmt: skip
    parser.add_argument("--plot", type=Path, default=None, help="PNG: audio hours per wall hour against workers")
    parser.add_argument("--json", type=Path, default=None, help="also write every run here")
    parser.add_argument("--bare", nargs="+", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare-parallel", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_files(args.bare, args.model, args.bare_parallel)
        return

    files = calls_of(args.files or [str(PROJECT / "audio_samples"), *map(str, shared_dual_channel_calls())])
    audio_s = audio_seconds(files)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="callqa-scale-") as folder:
        workdir = Path(folder)
        for round_ in range(args.rounds):
            for config in args.configs:
                print(f"round {round_ + 1}: {config} ...", file=sys.stderr, flush=True)
                runs.append(run_config(config, files, workdir, round_, args.model))
        medians = print_table(runs, audio_s, len(files)) if runs else {}  # --rounds 0: the batch alone

        batch = None
        if args.batch_calls:
            calls = build_batch(shared_dual_channel_calls() + calls_of([str(PROJECT / "audio_samples")]),
                                args.batch_calls, workdir / "batch")  # fmt: skip
            batch_s = audio_seconds(calls)
            print(f"batch: {len(calls)} calls, {batch_s / 3600:.2f} h of audio ...", file=sys.stderr, flush=True)
            batch = [run_config(config, calls, workdir, 0, args.model) for config in args.batch_config]
            for run in batch:
                print(f"\nbatch of {len(calls)} distinct calls ({batch_s / 3600:.2f} h of audio, {run.config}): "
                      f"wall {run.wall_s:.0f} s, {len(calls) * 3600 / run.wall_s:.0f} calls per hour, "
                      f"{batch_s / run.wall_s:.1f} audio hours per wall hour, peak {run.peak_worker_gb:.2f} GB per worker"
                      f"{'' if run.returncode == 0 else f', exit {run.returncode}'}")  # fmt: skip
            if len(batch) > 1:
                print(f"batch wall vs {batch[0].config}: " + ", ".join(f"{run.config} {run.wall_s / batch[0].wall_s:.3f}" for run in batch[1:]))

    if args.plot:
        plot(medians, audio_s, args.plot)
        print(f"throughput curve: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps({"audio_s": audio_s, "runs": [asdict(r) for r in runs],
                                         "batch": [asdict(run) for run in batch] if batch else None}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
