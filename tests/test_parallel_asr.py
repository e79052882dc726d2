"""Two calls in the model at once (``asr.parallel_batches``): one model's weights, a batched
pipeline per seat of the ASR lane, the cores shared out, and the same words as one call at a time."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.batch import worker_asr
from pipeline.call import Lanes, StageClock
from pipeline.config import load_settings
from pipeline.transcribe import AsrOptions
from tests.conftest import SAMPLES


@pytest.mark.parametrize(
    ("options", "parallel", "threads"),
    [
        ({"cpu_threads": 2}, 2, 1),  # a 2-core worker: two batches on one thread each
        ({"cpu_threads": 8}, 2, 4),
        ({"cpu_threads": 1}, 1, 1),  # one of two worker processes on 2 cores
        ({"cpu_threads": 8, "parallel_batches": 4}, 4, 2),
        ({"device": "cuda"}, 1, 0),  # the GPU takes one batch at a time, CTranslate2's threads
    ],
)
def test_the_worker_threads_are_shared_out_among_the_batches_in_the_model(options, parallel, threads):
    asr = AsrOptions(**options)
    assert asr.resolved_parallel_batches() == parallel
    assert asr.resolved_threads_per_batch() == threads


def test_the_batch_size_is_shared_out_among_the_batches_so_the_chunks_in_the_model_stay_the_same():
    assert AsrOptions(cpu_threads=2, batch_size=8).resolved_call_batch_size() == 4
    assert AsrOptions(cpu_threads=1, batch_size=8).resolved_call_batch_size() == 8
    assert AsrOptions(cpu_threads=2, batch_size=1).resolved_call_batch_size() == 1
    assert AsrOptions(cpu_threads=2, batch_size=0).resolved_call_batch_size() == 0  # sequential decoding


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    one = load_settings(workers=1)
    assert worker_asr(one).cpu_threads == 0  # all of them: resolved as 2 batches of 4 threads
    assert worker_asr(one).resolved_parallel_batches() == 2
    four = load_settings(workers=4)
    assert worker_asr(four).cpu_threads == 2 and worker_asr(four).resolved_threads_per_batch() == 1
    ray = load_settings(engine={"kind": "ray", "cpus_per_worker": 3})
    assert worker_asr(ray).cpu_threads == 3
    pinned = load_settings(workers=4, asr={"cpu_threads": 6})
    assert worker_asr(pinned).cpu_threads == 6  # set by the user: kept


def test_a_lane_seats_as_many_calls_as_it_has_seats_and_the_next_waits():
    lanes = Lanes({"asr": 2})
    seated: list[int] = []
    both_in = threading.Barrier(2)
    third_waited = threading.Event()

    def call(index: int) -> None:
        clock = StageClock()
        with lanes.enter("asr", clock) as seat:
            seated.append(seat)
            if index < 2:
                both_in.wait(timeout=5)  # the first two are in the lane together
                time.sleep(0.3)
            elif clock.laps["waiting"] >= 0.2:
                third_waited.set()

    with ThreadPoolExecutor(3) as pool:
        first_two = [pool.submit(call, index) for index in range(2)]
        time.sleep(0.05)
        third = pool.submit(call, 2)
        for future in (*first_two, third):
            future.result(timeout=10)
    assert sorted(seated[:2]) == [0, 1]
    assert seated[2] in (0, 1)
    assert third_waited.is_set()


def test_two_calls_in_the_model_at_once_get_the_words_each_gets_alone(monkeypatch):
    """Two demo calls through one processor from two threads: both are in the model at the same
    time, each through its own batched pipeline over the one model, and each call's words are
    what it gets when it runs alone."""
    import pipeline.call as call_module
    from pipeline.audio import file_sha256
    from pipeline.call import CallProcessor

    settings = load_settings(asr={"model": "whisper-tiny.en", "parallel_batches": 2})
    processor = CallProcessor(settings)
    pipelines = processor.models.whisper_pipelines()
    assert len(pipelines) == 2
    assert pipelines[0][0] is pipelines[1][0] and pipelines[0][1] is not pipelines[1][1]
    assert pipelines[0][0].model.num_workers == 2
    files = [SAMPLES / "card_payment.stereo.flac", SAMPLES / "good_call.stereo.flac"]

    def words(result):
        return [(w.word, w.start_s, w.end_s, w.probability, w.speaker) for w in result.words]

    alone = [words(processor(path, file_sha256(path))) for path in files]

    in_model: list[tuple[int, float, float]] = []  # (pipeline, entered, left)
    transcribe_regions = call_module.transcribe_regions

    def timed(model_and_batched, *args, **kwargs):
        entered = time.perf_counter()
        try:
            return transcribe_regions(model_and_batched, *args, **kwargs)
        finally:
            in_model.append((id(model_and_batched[1]), entered, time.perf_counter()))

    monkeypatch.setattr(call_module, "transcribe_regions", timed)
    with ThreadPoolExecutor(2) as pool:
        together = [words(result) for result in pool.map(lambda p: processor(p, file_sha256(p)), files)]

    assert together == alone
    (first, entered_1, left_1), (second, entered_2, left_2) = in_model
    assert first != second  # each through its own pipeline
    assert max(entered_1, entered_2) < min(left_1, left_2)  # in the model at the same time


def test_a_run_of_one_call_decodes_one_batch_at_a_time_on_all_the_threads(tmp_path, monkeypatch):
    """Nothing would share the model with a lone call: a second parallel batch would only leave
    half the cores idle, so the run loads the model with one batch on all the worker's threads."""
    import pipeline.batch as batch

    engines: list[int] = []
    make_engine = batch.make_engine

    def recorded(settings, *args, **kwargs):
        engine = make_engine(settings, *args, **kwargs)
        engines.append(engine.processor.models.whisper()[0].model.num_workers)
        return engine

    monkeypatch.setattr(batch, "make_engine", recorded)
    settings = load_settings(asr={"model": "whisper-tiny.en"})
    assert settings.asr.resolved_parallel_batches() == min(2, os.cpu_count() or 1)
    one = batch.run_batch([str(SAMPLES / "rude_call.stereo.flac")], tmp_path / "one.duckdb", settings)
    two = batch.run_batch(
        [str(SAMPLES / "rude_call.stereo.flac"), str(SAMPLES / "hold.stereo.flac")], tmp_path / "two.duckdb", settings
    )
    assert one.done == 1 and two.done == 2
    assert engines == [1, settings.asr.resolved_parallel_batches()]
    pinned = load_settings(asr={"model": "whisper-tiny.en", "parallel_batches": 2})
    assert batch.alone_in_the_model(pinned).asr.parallel_batches == 2  # the user's choice stands
