"""pyannote backend: the adapter's wiring, on tiny random-weight checkpoints built here.

The weights are random, so nothing here judges who spoke when; the tests check what the adapter
promises: in-memory audio, ``spk*`` turns inside the call, sorted, every way of loading a
pipeline, and errors that say how to get the model without ever touching the network.
"""

from __future__ import annotations

import itertools
import os
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline.diarize import DiarizationResult
from pipeline.diarize.pyannote_backend import (
    PyannoteDiarization,
    PyannoteDiarizer,
    load_pyannote_diarizer,
)
from pipeline.models import ModelError
from pipeline.types import Audio, Segment, Turn
from tests.conftest import RATE, place

# ../shared beside the project (the CI clone has it there too), never an absolute path
SAMPLE_WAV = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "eval"
    / "pyannote-audio"
    / "sample"
    / "sample.wav"
)
CHUNK_S = 5.0  # the tiny segmentation model's window; a few seconds of audio is one or two windows
EMBEDDING_DIMENSION = 32
LDA_DIMENSION = 16

COMMUNITY_CONFIG = """\
dependencies:
  pyannote.audio: 4.0.0
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    clustering: VBxClustering
    segmentation: $model/segmentation
    segmentation_batch_size: 32
    embedding: $model/embedding
    embedding_batch_size: 32
    embedding_exclude_overlap: true
    plda: $model/plda
params:
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
  segmentation:
    min_duration_off: 0.0
"""

# speaker-diarization-3.1's layout after the pyannote "offline use" recipe: agglomerative
# clustering, no PLDA, models named by paths relative to config.yaml.
AGGLOMERATIVE_CONFIG = """\
version: 3.1.0
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    clustering: AgglomerativeClustering
    embedding: {embedding}
    embedding_batch_size: 32
    embedding_exclude_overlap: true
    segmentation: {segmentation}
    segmentation_batch_size: 32
params:
  clustering:
    method: centroid
    min_cluster_size: 12
    threshold: 0.7045654963945799
  segmentation:
    min_duration_off: 0.0
"""

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")


def save_checkpoint(model, path: Path) -> None:
    """What a Lightning trainer would write, without a trainer: weights, init args, pyannote metadata."""
    import lightning
    import torch

    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)  # adds the "pyannote.audio" block from_pretrained reads
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def write_snapshot(root: Path) -> Path:
    """A community-1-shaped pipeline folder: segmentation/, embedding/, plda/, config.yaml."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyannote.audio.core.task import Problem, Resolution, Specifications
        from pyannote.audio.models.embedding import XVectorMFCC
        from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(0)
    segmentation = PyanNet(
        lstm={"hidden_size": 16, "num_layers": 1}, linear={"hidden_size": 16, "num_layers": 1}
    )
    # Powerset over 3 local speakers, at most 2 at once: the shape of segmentation-3.0.
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=CHUNK_S,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    segmentation.build()
    save_checkpoint(segmentation, root / "segmentation" / "pytorch_model.bin")

    embedding = XVectorMFCC(dimension=EMBEDDING_DIMENSION)
    embedding.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=CHUNK_S
    )
    save_checkpoint(embedding, root / "embedding" / "pytorch_model.bin")

    # A valid (if meaningless) PLDA: x-vector transform to LDA_DIMENSION, then identity PLDA.
    rng = np.random.default_rng(0)
    (root / "plda").mkdir(parents=True, exist_ok=True)
    np.savez(
        root / "plda" / "xvec_transform.npz",
        mean1=np.zeros(EMBEDDING_DIMENSION),
        mean2=np.zeros(LDA_DIMENSION),
        lda=rng.standard_normal((EMBEDDING_DIMENSION, LDA_DIMENSION)),
    )
    np.savez(
        root / "plda" / "plda.npz",
        mu=np.zeros(LDA_DIMENSION),
        tr=np.eye(LDA_DIMENSION),
        psi=np.linspace(2.0, 0.5, LDA_DIMENSION),
    )
    (root / "config.yaml").write_text(COMMUNITY_CONFIG)
    return root


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy 2-core box more threads spin and stall."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory) -> Path:
    return write_snapshot(tmp_path_factory.mktemp("pyannote") / "speaker-diarization-community-1")


@pytest.fixture(scope="session")
def checkpoint_diarizer(snapshot) -> PyannoteDiarizer:
    return PyannoteDiarizer(
        segmentation=snapshot / "segmentation",
        embedding=snapshot / "embedding" / "pytorch_model.bin",
    )


@pytest.fixture
def no_network(monkeypatch):
    """Any hub download or socket connection fails the test."""
    import huggingface_hub
    import pyannote.audio.utils.hf_hub as pyannote_hub

    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(pyannote_hub, "hf_hub_download", refuse)


def two_voice_call(duration_s: float = 6.0, channels: int = 1) -> Audio:
    """A tone for one 'speaker', noise bursts for the other, silence between."""
    samples = place(duration_s, [(0.3, 2.4)], level_dbfs=-18.0)
    rng = np.random.default_rng(1)
    for start_s, end_s in [(2.8, 4.2), (4.6, 5.6)]:
        first, last = int(start_s * RATE), int(end_s * RATE)
        samples[first:last] += 0.05 * rng.standard_normal(last - first).astype(np.float32)
    stacked = np.stack([samples] * channels)
    return Audio("call.wav", "0" * 64, stacked, RATE, RATE)


def assert_well_formed(turns: list[Turn], audio: Audio) -> None:
    assert turns, "expected turns from the random-weight pipeline"
    assert all(isinstance(turn, Turn) for turn in turns)
    assert all(turn.speaker.startswith("spk") for turn in turns)
    assert all(0.0 <= turn.start_s < turn.end_s <= audio.duration_s for turn in turns)
    assert turns == sorted(turns, key=lambda turn: (turn.start_s, turn.end_s, turn.speaker))
    # first appearance order: spk0 starts first, then spk1...
    first_seen = list(dict.fromkeys(turn.speaker for turn in turns))
    assert first_seen == [f"spk{index}" for index in range(len(first_seen))]


def spy_on(monkeypatch, diarizer: PyannoteDiarizer) -> list:
    calls = []
    real = diarizer.pipeline

    def spy(file, **kwargs):
        calls.append((dict(file), kwargs))
        return real(file, **kwargs)

    monkeypatch.setattr(diarizer, "pipeline", spy)
    return calls


def test_checkpoints_diarize_a_call_in_memory(checkpoint_diarizer, monkeypatch, no_network):
    import pyannote.audio.core.io as pyannote_io

    def no_decoding(*args, **kwargs):
        raise AssertionError("pyannote tried to decode a file")

    monkeypatch.setattr(pyannote_io, "AudioDecoder", no_decoding, raising=False)
    calls = spy_on(monkeypatch, checkpoint_diarizer)
    audio = two_voice_call()

    result = checkpoint_diarizer(audio, [[Segment(0.3, 5.6)]])

    assert checkpoint_diarizer.name == "pyannote:segmentation+embedding"
    assert isinstance(result, DiarizationResult)
    assert_well_formed(list(result.turns), audio)
    assert result.num_speakers == len({turn.speaker for turn in result.turns})
    assert result.confidence is not None and 0.0 <= result.confidence <= 1.0
    ((file, kwargs),) = calls
    assert "audio" not in file
    assert tuple(file["waveform"].shape) == (1, audio.samples.shape[1])
    assert str(file["waveform"].dtype) == "torch.float32"
    assert file["sample_rate"] == RATE
    # a call is two people unless told otherwise; the hook only collects the chunk embeddings
    assert {key: value for key, value in kwargs.items() if key != "hook"} == {"num_speakers": 2}


def test_dual_mono_call_uses_channel_zero(checkpoint_diarizer, monkeypatch):
    calls = spy_on(monkeypatch, checkpoint_diarizer)
    audio = two_voice_call(channels=2)

    turns = list(checkpoint_diarizer(audio, [[Segment(0.3, 5.6)]]).turns)

    assert_well_formed(turns, audio)
    assert tuple(calls[0][0]["waveform"].shape) == (1, audio.samples.shape[1])


def test_no_speech_means_no_turns_and_no_model_run(checkpoint_diarizer, monkeypatch):
    calls = spy_on(monkeypatch, checkpoint_diarizer)
    assert checkpoint_diarizer(two_voice_call(), [[]]) == DiarizationResult((), 0, None)
    assert calls == []


def test_community_layout_directory_loads_and_runs(snapshot, no_network):
    diarizer = PyannoteDiarizer(snapshot, min_speakers=1, max_speakers=3)
    audio = two_voice_call()

    result = diarizer.diarize(audio)

    assert diarizer.name == "pyannote:speaker-diarization-community-1"
    assert type(diarizer.pipeline.clustering).__name__ == "VBxClustering"
    assert diarizer.speaker_counts == {"min_speakers": 1, "max_speakers": 3}
    assert isinstance(result, PyannoteDiarization)
    assert_well_formed(result.turns, audio)
    assert all(0.0 <= span.start_s < span.end_s <= audio.duration_s for span in result.overlaps)
    assert result.overlap_s == pytest.approx(sum(span.duration_s for span in result.overlaps))


def test_agglomerative_config_with_relative_paths_needs_no_plda(snapshot, tmp_path, no_network):
    folder = tmp_path / "speaker-diarization-3.1"
    folder.mkdir()
    config = AGGLOMERATIVE_CONFIG.format(
        segmentation=os.path.relpath(snapshot / "segmentation" / "pytorch_model.bin", folder),
        embedding=os.path.relpath(snapshot / "embedding", folder),
    )
    assert "segmentation: ../" in config and "embedding: ../" in config
    (folder / "config.yaml").write_text(config)

    diarizer = PyannoteDiarizer(folder / "config.yaml", params={"clustering": {"threshold": 0.5}})
    audio = two_voice_call()

    assert type(diarizer.pipeline.clustering).__name__ == "AgglomerativeClustering"
    assert diarizer.pipeline.clustering.threshold == 0.5
    assert_well_formed(list(diarizer(audio, [[Segment(0.3, 5.6)]]).turns), audio)


def test_checkpoints_with_plda_use_vbx(snapshot, no_network):
    diarizer = PyannoteDiarizer(
        segmentation=snapshot / "segmentation",
        embedding=snapshot / "embedding",
        plda=snapshot / "plda",
        exclusive_turns=True,
    )
    audio = two_voice_call()

    turns = list(diarizer(audio, [[Segment(0.3, 5.6)]]).turns)

    assert type(diarizer.pipeline.clustering).__name__ == "VBxClustering"
    assert_well_formed(turns, audio)
    for earlier, later in itertools.pairwise(turns):  # exclusive: nobody talks over anybody
        assert later.start_s >= earlier.end_s - 1e-6


def test_manifest_name_resolves_to_models_dir(snapshot, tmp_path, no_network):
    import shutil

    local = tmp_path / "pyannote" / "speaker-diarization-community-1"
    shutil.copytree(snapshot, local)

    diarizer = load_pyannote_diarizer("pyannote-community-1", tmp_path, num_speakers=1)

    assert diarizer.name == "pyannote:pyannote-community-1"
    audio = two_voice_call()
    result = diarizer(audio, [[Segment(0.3, 5.6)]])
    assert_well_formed(list(result.turns), audio)
    assert {turn.speaker for turn in result.turns} == {"spk0"}
    assert result.confidence == 0.0  # one speaker asked for: no split to be sure of


@pytest.mark.skipif(not SAMPLE_WAV.is_file(), reason="pyannote's sample recording is not here")
def test_real_speech_sample(checkpoint_diarizer):
    import soundfile

    samples, rate = soundfile.read(SAMPLE_WAV, dtype="float32", frames=8 * 16_000)
    assert rate == RATE
    audio = Audio(str(SAMPLE_WAV), "", samples[None, :], rate, rate)

    assert_well_formed(list(checkpoint_diarizer(audio, [[Segment(0.0, 8.0)]]).turns), audio)


def test_annotation_and_output_object_both_become_turns(checkpoint_diarizer, monkeypatch):
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
    from pyannote.core import Annotation
    from pyannote.core import Segment as Span

    regular = Annotation()
    regular[Span(2.0, 4.0)] = "SPEAKER_00"
    regular[Span(0.5, 2.5)] = "SPEAKER_01"
    regular[Span(5.0, 9.0)] = "SPEAKER_00"  # runs past the 6 s call: clipped
    exclusive = Annotation()
    exclusive[Span(0.5, 2.0)] = "SPEAKER_01"
    exclusive[Span(2.0, 4.0)] = "SPEAKER_00"
    exclusive[Span(5.0, 9.0)] = "SPEAKER_00"
    audio = two_voice_call()

    monkeypatch.setattr(checkpoint_diarizer, "pipeline", lambda file, **kw: regular)
    assert list(checkpoint_diarizer(audio, [[Segment(0.5, 6.0)]]).turns) == [
        Turn("spk0", 0.5, 2.5),
        Turn("spk1", 2.0, 4.0),
        Turn("spk1", 5.0, 6.0),
    ]

    output = DiarizeOutput(speaker_diarization=regular, exclusive_speaker_diarization=exclusive)
    monkeypatch.setattr(checkpoint_diarizer, "pipeline", lambda file, **kw: output)
    result = checkpoint_diarizer.diarize(audio)
    assert result.turns[0] == Turn("spk0", 0.5, 2.5)
    assert result.exclusive_turns == [
        Turn("spk0", 0.5, 2.0),
        Turn("spk1", 2.0, 4.0),
        Turn("spk1", 5.0, 6.0),
    ]
    assert result.overlaps == [Segment(2.0, 2.5)]
    assert result.overlap_s == pytest.approx(0.5)


def test_missing_manifest_model_says_how_to_get_it(tmp_path, no_network):
    with pytest.raises(ModelError, match="callqa models pull pyannote-community-1"):
        load_pyannote_diarizer("pyannote-community-1", tmp_path)


def test_missing_directory_says_how_to_get_it(tmp_path, no_network):
    with pytest.raises(ModelError, match="callqa models pull"):
        PyannoteDiarizer(tmp_path / "models" / "pyannote" / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.yaml"):
        PyannoteDiarizer(tmp_path / "empty")


def test_hub_id_without_permission_never_downloads(tmp_path, no_network):
    with pytest.raises(ModelError, match="callqa models pull") as raised:
        PyannoteDiarizer("pyannote/speaker-diarization-community-1", token="hf_dummy")
    assert "downloading from the model hub is off" in str(raised.value)


def test_config_naming_a_hub_model_is_refused_offline(snapshot, tmp_path, no_network):
    (tmp_path / "config.yaml").write_text(
        AGGLOMERATIVE_CONFIG.format(
            segmentation="pyannote/segmentation-3.0", embedding=snapshot / "embedding"
        )
    )
    with pytest.raises(ModelError, match="segmentation 'pyannote/segmentation-3.0'"):
        PyannoteDiarizer(tmp_path)


def test_missing_checkpoint_file_is_named(snapshot, tmp_path):
    with pytest.raises(ModelError, match="pytorch_model.bin is missing"):
        PyannoteDiarizer(segmentation=tmp_path, embedding=snapshot / "embedding")


def test_speaker_count_options_are_checked(snapshot):
    with pytest.raises(ValueError, match="min_speakers"):
        PyannoteDiarizer(
            segmentation=snapshot / "segmentation",
            embedding=snapshot / "embedding",
            min_speakers=3,
            max_speakers=2,
        )
    with pytest.raises(ValueError, match="either"):
        PyannoteDiarizer(
            snapshot, segmentation=snapshot / "segmentation", embedding=snapshot / "embedding"
        )


def test_allowed_download_goes_to_the_hub_and_reports_failure(tmp_path, no_network):
    with pytest.raises(ModelError, match="could not download pyannote pipeline"):
        load_pyannote_diarizer("pyannote-community-1", tmp_path, allow_download=True, token="hf_x")


def test_manifest_model_of_another_kind_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not a pyannote pipeline"):
        load_pyannote_diarizer("silero-vad", tmp_path)


def test_path_is_loaded_as_a_pipeline_directory(snapshot, no_network):
    diarizer = load_pyannote_diarizer(str(snapshot), exclusive_turns=True)
    assert diarizer.name == "pyannote:speaker-diarization-community-1"
    assert diarizer.exclusive_turns


def test_confidence_follows_how_clearly_the_chunk_embeddings_split(checkpoint_diarizer, monkeypatch):
    """The hook's chunk embeddings and pyannote's centroids give the confidence: two tight,
    distant groups are a clear split; two groups drawn from one cloud are not."""
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
    from pyannote.core import Annotation
    from pyannote.core import Segment as Span

    regular = Annotation()
    regular[Span(0.5, 2.5)] = "SPEAKER_00"
    regular[Span(3.0, 5.5)] = "SPEAKER_01"
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(16), rng.standard_normal(16)

    def pipeline_with(chunks, centroids):
        def run(file, hook=None, **kwargs):
            hook("embeddings", chunks, file=file)
            return DiarizeOutput(
                speaker_diarization=regular, exclusive_speaker_diarization=regular, speaker_embeddings=centroids
            )

        return run

    clear = np.stack([a + 0.05 * rng.standard_normal((20, 16)), b + 0.05 * rng.standard_normal((20, 16))], axis=1)
    monkeypatch.setattr(checkpoint_diarizer, "pipeline", pipeline_with(clear, np.stack([a, b])))
    assert checkpoint_diarizer(two_voice_call(), [[Segment(0.5, 5.5)]]).confidence == 1.0

    cloud = a + 0.5 * rng.standard_normal((20, 2, 16))
    cloud[3, 1] = np.nan  # a local speaker silent in a chunk
    centroids = np.stack([cloud[:10, 0].mean(axis=0), cloud[10:, 0].mean(axis=0)])
    monkeypatch.setattr(checkpoint_diarizer, "pipeline", pipeline_with(cloud, centroids))
    assert checkpoint_diarizer(two_voice_call(), [[Segment(0.5, 5.5)]]).confidence < 0.5


@pytest.mark.slow
def test_a_mono_call_through_pyannote_stores_both_confidences(checkpoint_diarizer):
    """The run stores the pyannote diarizer's confidence and the role confidence (never NULL)."""
    from pipeline.audio import file_sha256
    from pipeline.batch import CallProcessor
    from pipeline.config import load_settings
    from tests.conftest import SAMPLES

    processor = CallProcessor(
        load_settings(asr={"model": "whisper-tiny.en"}, redacted_audio={"enabled": False})
    )
    processor._mono_diarizer = checkpoint_diarizer  # what mono_backend: pyannote loads
    path = SAMPLES / "good_call.mono.flac"
    record = processor(path, file_sha256(path))
    assert record.diarizer == "pyannote:segmentation+embedding"
    assert record.diarization_confidence is not None and 0.0 <= record.diarization_confidence <= 1.0
    assert record.role_confidence is not None and 0.0 <= record.role_confidence <= 1.0
