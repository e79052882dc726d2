"""Review app latency at 100 000 calls: queue pages and call pages under a bounded local load.

Builds (once, then reuses) a database of synthetic calls with bulk SQL — calls with owners, turns,
events, redactions, scores, ten criteria each, a review queue of about a third of the calls, an
audit history, a human review (and some amendments) for every done queue item, a low-confidence
stretch on a fifth of the calls — starts ``callqa serve`` on a free 127.0.0.1 port (one uvicorn process, as in
production), logs in, and has a few concurrent clients request each kind of page. Call ids are
hashes, as in real runs, so a call's rows are not where its id would sort. The ``words`` table is
left empty: no page reads it. The baseline is a static file from the same server (the framework's
floor), measured in the same run.

    .venv/bin/python benchmarks/review_app.py [--calls 100000] [--clients 4] [--requests 200] [--separate] [--rebuild]

``--app-root DIR`` serves another checkout's code (e.g. ``git archive main``) on the same database,
for a before/after comparison measured back to back.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's pipeline

from pipeline.audio import file_sha256
from pipeline.review.auth import hash_password
from pipeline.rubric import DEFAULT_RUBRIC_PATH, load_rubric
from pipeline.store.review_store import ReviewStore
from pipeline.store.store import Store
from tests.review_fixtures import server_process

TEAMS = [f"team{i:02d}" for i in range(10)]
SUPERVISOR_TEAMS = TEAMS[:2]
PASSWORD = "benchmark password"
TARGET_P95_MS = {
    "queue": 300.0,
    "queue, filtered": 300.0,
    "queue, QA lead deep pages": 300.0,
    "queue, sorted": 300.0,
    "queue, done tab": 300.0,
    "call page": 500.0,
}
SORTS = ["score", "call", "agent", "team", "date", "length", "status", "priority"]
CRITERIA = [
    ("greeting", "opening"), ("recording_disclosure", "opening"), ("verification", "discovery"),
    ("empathy", "discovery"), ("hold_etiquette", "hold"), ("no_dead_air_over_10s", "conversation"),
    ("interruptions", "conversation"), ("resolution", "resolution"), ("closing", "closing"),
    ("forbidden_phrases", "compliance"),
]  # fmt: skip
LINES = [
    "Thank you for calling Acme Telecom, my name is Emily, how can I help you today?",
    "Hi, I'd like to check why my last bill was higher than usual.",
    "Of course. Can I please confirm your full name and date of birth?",
    "Thomas Wright, fourteenth of May nineteen seventy two.",
    "Thank you. I can see an extra charge for international roaming on the third.",
    "Oh, I was in Spain for a couple of days, I thought that was included.",
    "I understand how frustrating that is. Let me check what your plan covers.",
    "Is there anything else I can help you with today?",
]


def build_database(db: Path, calls: int, audio: Path) -> None:
    """Bulk-insert ``calls`` synthetic calls (a few seconds per 100 000 on 2 cores)."""
    sf.write(
        audio, (0.1 * np.sin(np.arange(16_000 * 30) / 5)).astype(np.float32), 16_000, format="FLAC"
    )
    audio_sha = file_sha256(audio)
    db.unlink(missing_ok=True)
    with Store(db) as store:
        store.register_rubric(
            load_rubric(DEFAULT_RUBRIC_PATH), str(DEFAULT_RUBRIC_PATH), DEFAULT_RUBRIC_PATH.read_text()
        )
        con = store.con
        con.execute("SELECT setseed(0.42)")
        con.execute(
            """INSERT INTO calls (call_id, source_path, sha256, duration_s, sample_rate, channels, status, asr_model,
                                  diarizer, num_speakers, diarization_confidence, role_confidence, speech_s, word_count,
                                  mean_word_probability, processing_s, redacted_audio_path, redacted_sha256, processed_at,
                                  agent_id, team, queue_name, started_at)
               SELECT substr(md5(i::VARCHAR), 1, 16), '/recordings/' || i || '.wav', md5(i::VARCHAR) || md5(i::VARCHAR),
                      60 + (i * 7919) % 840, 8000, 2, 'done', 'whisper-base', 'channel-map', 2, 1.0, 1.0, 50.0, 400,
                      0.85, 12.0, ?, ?, TIMESTAMP '2026-08-01' + INTERVAL (i * 77) SECOND,
                      CASE WHEN i % 97 = 0 THEN NULL ELSE 'a' || (100 + i % 200) END,
                      CASE WHEN i % 97 = 0 THEN NULL ELSE 'team' || lpad(((i // 3) % 10)::VARCHAR, 2, '0') END,
                      'queue' || (i % 6), TIMESTAMP '2026-08-01' + INTERVAL (i * 77) SECOND
                 FROM range(?) t(i)""",
            [str(audio), audio_sha, calls],
        )
        con.execute(
            """INSERT INTO turns (call_id, turn_idx, speaker, start_s, end_s, text)
               SELECT substr(md5(i::VARCHAR), 1, 16), k, CASE WHEN k % 2 = 0 THEN 'agent' ELSE 'customer' END,
                      k * 4.0, k * 4.0 + 3.5, (?::VARCHAR[])[1 + (i + k) % 8]
                 FROM range(?) t(i), range(20) u(k) ORDER BY i, k""",
            [LINES, calls],
        )
        con.execute(
            """INSERT INTO events (call_id, event_idx, kind, start_s, end_s, speaker, detail)
               SELECT substr(md5(i::VARCHAR), 1, 16), k, ['dead_air', 'hold', 'talkover', 'interruption'][1 + k],
                      10 + k * 15.0, 14 + k * 15.0, 'agent', ''
                 FROM range(?) t(i), range(4) u(k) ORDER BY i, k""",
            [calls],
        )
        con.execute(
            """INSERT INTO events (call_id, event_idx, kind, start_s, end_s, speaker, detail)
               SELECT substr(md5(i::VARCHAR), 1, 16), 4, 'low_confidence', 50.0, 53.0, 'customer', '5 words, mean probability 0.38'
                 FROM range(?) t(i) WHERE i % 5 = 0""",
            [calls],
        )
        con.execute(
            "INSERT INTO redactions (call_id, redaction_idx, kind, start_s, end_s) SELECT substr(md5(i::VARCHAR), 1, 16), 0, 'card', 30.0, 36.0 FROM range(?) t(i) WHERE i % 3 = 0",
            [calls],
        )
        con.execute(
            """INSERT INTO call_scores (call_id, rubric_id, rubric_version, score, passed, auto_fail, confidence, scored_at)
               SELECT substr(md5(i::VARCHAR), 1, 16), 'contact-center-default', 1, (i * 37) % 101, (i * 37) % 101 >= 80,
                      i % 11 = 0, 0.8, TIMESTAMP '2026-08-01' + INTERVAL (i * 77) SECOND
                 FROM range(?) t(i)""",
            [calls],
        )
        con.execute(
            """INSERT INTO criterion_scores (call_id, rubric_id, rubric_version, criterion_id, stage, points, max_points,
                                          status, auto_fail, confidence, evidence_text, evidence_start_s, evidence_end_s)
               SELECT substr(md5(i::VARCHAR), 1, 16), 'contact-center-default', 1, (?::VARCHAR[])[1 + k], (?::VARCHAR[])[1 + k],
                      CASE WHEN (i + k) % 4 = 0 THEN 0 ELSE 10 END, 10,
                      CASE WHEN (i + k) % 4 = 0 THEN 'fail' ELSE 'pass' END, k = 1 AND i % 11 = 0, 0.9,
                      '''' || (?::VARCHAR[])[1 + (i + k) % 8] || ''' (' || (k * 4.0) || '-' || (k * 4.0 + 3.5) || ' s)', k * 4.0, k * 4.0 + 3.5
                 FROM range(?) t(i), range(10) u(k) ORDER BY i, k""",
            [[c[0] for c in CRITERIA], [c[1] for c in CRITERIA], LINES, calls],
        )
        con.execute(
            """INSERT INTO review_queue (call_id, priority, reasons, rubric_id, rubric_version, status, assigned_to, created_at)
               SELECT substr(md5(i::VARCHAR), 1, 16), CASE WHEN i % 11 = 0 THEN 1 ELSE 2 + i % 3 END,
                      CASE WHEN i % 11 = 0 THEN 'auto-fail: recording_disclosure at 4.0 s'
                           ELSE 'score ' || ((i * 37) % 101) || ' below pass mark 80 (greeting, closing)' END,
                      'contact-center-default', 1,
                      CASE WHEN i % 10 = 0 THEN 'done' WHEN i % 10 = 1 THEN 'in_review' ELSE 'pending' END,
                      CASE WHEN i % 10 IN (0, 1) THEN 'lead' END, TIMESTAMP '2026-08-01' + INTERVAL (i * 77) SECOND
                 FROM range(?) t(i) WHERE i % 11 = 0 OR (i * 37) % 101 < 80 AND i % 3 = 0""",
            [calls],
        )
        # every done queue item has a human review; every seventh one was amended once
        con.execute(
            """INSERT INTO reviews (review_id, call_id, reviewer, rubric_id, rubric_version, human_score, overall_comment,
                                    coaching_notes, source, started_at, submitted_at)
               SELECT md5('review' || q.call_id), q.call_id, 'lead', q.rubric_id, q.rubric_version,
                      (hash(q.call_id) % 101)::DOUBLE, 'Benchmark review.', NULL, 'app',
                      q.created_at + INTERVAL 1 DAY, q.created_at + INTERVAL 1 DAY + INTERVAL 5 MINUTE
                 FROM review_queue q WHERE q.status = 'done'"""
        )
        con.execute(
            """INSERT INTO reviews (review_id, call_id, reviewer, rubric_id, rubric_version, human_score, overall_comment,
                                    coaching_notes, source, amends_review_id, started_at, submitted_at)
               SELECT md5('amend' || r.call_id), r.call_id, 'lead', r.rubric_id, r.rubric_version, 90.0, 'Amended.',
                      NULL, 'app', r.review_id, r.submitted_at + INTERVAL 1 HOUR, r.submitted_at + INTERVAL 1 HOUR
                 FROM reviews r WHERE hash(r.call_id) % 7 = 0"""
        )
        con.execute(
            """INSERT INTO audit_log ("at", username, action, object, "before", "after") SELECT TIMESTAMP '2026-08-01' + INTERVAL (i * 20) SECOND, 'lead',
                      ['claim', 'grade', 'login'][1 + i % 3], substr(md5(i::VARCHAR), 1, 16), NULL, NULL
                 FROM range(?) t(i)""",
            [calls],
        )
        con.execute(
            "INSERT INTO criterion_trust (rubric_id, rubric_version, criterion_id, trusted, reason, n_calls, kappa, kappa_low, kappa_high, decided_at) VALUES ('contact-center-default', 1, 'empathy', false, 'kappa 0.3', 60, 0.3, 0.1, 0.5, now()::TIMESTAMP)"
        )
        con.execute("CHECKPOINT")
    with Store(db):  # opening for writing fills the queue listing from the rows written above
        pass
    store = ReviewStore(str(db))
    with store.open() as review_db:
        review_db.add_user(
            "sup", hash_password(PASSWORD), "supervisor", SUPERVISOR_TEAMS, by="benchmark"
        )
        review_db.add_user("lead", hash_password(PASSWORD), "qa_lead", [], by="benchmark")


def ensure_database(db: Path, calls: int, rebuild: bool = False) -> None:
    """Build the database of ``calls`` calls unless the one at ``db`` was built with that many."""
    marker = db.with_name(db.name + f".{calls}.built")
    if rebuild or not marker.exists() or not db.exists():
        for other in db.parent.glob(glob.escape(db.name) + ".*.built"):
            other.unlink()  # the file is about to hold another number of calls
        started = time.perf_counter()
        build_database(db, calls, db.with_name(db.name + ".audio.flac"))
        marker.write_text("ok")
        print(
            f"built {calls} calls in {time.perf_counter() - started:.1f} s: {db} ({db.stat().st_size / 2**20:.0f} MiB)"
        )


def sample_database(db: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """Row counts of the main tables, and calls and agents of the supervisor's teams to ask for."""
    with duckdb.connect(str(db), read_only=True) as con:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("calls", "turns", "criterion_scores", "review_queue", "reviews", "audit_log")
        }
        scope_ids = [
            r[0]
            for r in con.execute(
                "SELECT call_id FROM calls WHERE team IN (SELECT unnest(?)) ORDER BY random() LIMIT 2000",
                [SUPERVISOR_TEAMS],
            ).fetchall()
        ]
        agents = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT agent_id FROM calls WHERE team IN (SELECT unnest(?)) AND agent_id IS NOT NULL",
                [SUPERVISOR_TEAMS],
            ).fetchall()
        ]
    return counts, scope_ids, agents


def page_scenarios(
    rng: random.Random, agents: list[str], scope_ids: list[str]
) -> dict[str, tuple[str, Callable[[], str]]]:
    """What each kind of page request looks like: name -> (user, a function giving the next path).
    The static file first: the baseline every other row is measured against."""
    reasons = ["auto-fail", "below pass mark", ""]
    return {
        "baseline: static file": ("sup", lambda: "/static/app.css"),
        "queue": ("sup", lambda: "/queue"),
        "queue, filtered": (
            "sup",
            lambda: (
                f"/queue?reason={rng.choice(reasons)}&agent={rng.choice(agents + [''])}"
                f"&score_min={rng.choice(['', '20'])}&score_max={rng.choice(['', '75'])}"
                f"&date_from=2026-08-{rng.randint(1, 28):02d}&date_to=2026-11-30&page={rng.randint(1, 5)}"
            ),
        ),
        "queue, QA lead deep pages": ("lead", lambda: f"/queue?page={rng.randint(1, 400)}"),
        "queue, sorted": (
            "sup",
            lambda: (
                f"/queue?sort={rng.choice(SORTS)}&dir={rng.choice(['asc', 'desc'])}&page={rng.randint(1, 20)}"
            ),
        ),
        "queue, done tab": (
            "sup",
            lambda: (
                f"/queue?status=done&sort={rng.choice(['human', 'date'])}&dir=desc&page={rng.randint(1, 10)}"
            ),
        ),
        "call page": ("sup", lambda: f"/calls/{rng.choice(scope_ids)}"),
    }


def _login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 303:
        sys.exit(f"login as {username} failed: {response.status_code}")
    return client


def _load(
    clients: list[dict[str, httpx.Client]], work: list[tuple[str, str, str]]
) -> dict[str, list[float]]:
    """Each client (one per thread) takes the next (scenario, user, path) from a shared list until it
    is empty. Scenarios are interleaved, so a busy moment on the machine hits them all alike."""
    latencies: dict[str, list[float]] = {}
    lock = threading.Lock()
    todo = list(reversed(work))

    def run(client: dict[str, httpx.Client]) -> None:
        while True:
            with lock:
                if not todo:
                    return
                scenario, user, path = todo.pop()
            started = time.perf_counter()
            response = client[user].get(path)
            elapsed_ms = 1000 * (time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            with lock:
                latencies.setdefault(scenario, []).append(elapsed_ms)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent clients (the bounded load)"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario")
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "callqa-review-bench.duckdb"
    )
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--app-root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="checkout whose `callqa serve` is measured (default: this one)",
    )
    parser.add_argument(
        "--separate",
        action="store_true",
        help="one scenario at a time (every client on the same page kind: the worst case)",
    )
    args = parser.parse_args()

    ensure_database(args.db, args.calls, args.rebuild)
    counts, scope_ids, agents = sample_database(args.db)
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

    with server_process(
        args.db, app_root=args.app_root.resolve(), secret_key="benchmark-secret-" + "k" * 40
    ) as (base, server):
        clients = [
            {"sup": _login(base, "sup"), "lead": _login(base, "lead")} for _ in range(args.clients)
        ]
        rng = random.Random(7)
        n = args.requests
        scenarios = page_scenarios(rng, agents, scope_ids)
        work = [(name, user, make()) for name, (user, make) in scenarios.items() for _ in range(n)]
        rng.shuffle(work)
        _load(
            clients,
            [("warm-up", "sup", "/queue"), ("warm-up", "sup", f"/calls/{scope_ids[0]}")] * 5,
        )
        cpu_before_s = _cpu_seconds(server.pid)
        if args.separate:
            results = {}
            for name in scenarios:
                results |= _load(clients, [item for item in work if item[0] == name])
        else:
            results = _load(clients, work)
        cpu_ms_per_request = 1000 * (_cpu_seconds(server.pid) - cpu_before_s) / len(work)
        with open(f"/proc/{server.pid}/status") as handle:
            peak_kib = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM"))

    baseline = statistics.median(results["baseline: static file"])
    print(
        f"\n{args.calls:,} calls, {args.clients} concurrent clients "
        f"({'one kind of page at a time' if args.separate else 'kinds interleaved'}), "
        f"{args.requests} requests per row, {os.cpu_count()} CPUs; app: {args.app_root.resolve()}"
    )
    print(
        f"{'what':28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'x baseline':>11} {'p95 target':>11}"
    )
    failed = False
    for name in scenarios:
        latencies = results[name]
        target = TARGET_P95_MS.get(name)
        p95 = _p95(latencies)
        verdict = (
            ""
            if target is None
            else (f"< {target:.0f} ok" if p95 < target else f"< {target:.0f} MISSED")
        )
        failed |= target is not None and p95 >= target
        print(
            f"{name:28} {statistics.median(latencies):10.1f} {p95:8.1f} {max(latencies):8.1f} "
            f"{statistics.median(latencies) / baseline:11.1f} {verdict:>11}"
        )
    print(f"server peak memory (VmHWM): {peak_kib / 1024:.0f} MiB")
    # CPU the server spent per request, all kinds together: barely moved by other load on the
    # machine, so it compares two builds more steadily than latencies on a shared machine
    print(f"server CPU per request: {cpu_ms_per_request:.1f} ms")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
