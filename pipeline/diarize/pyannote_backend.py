"""Mono calls with pyannote.audio: who spoke when, from a local pyannote pipeline.

The pipeline comes from one of three places, always loaded once per process:

- a local directory holding a pyannote pipeline (``config.yaml`` plus the checkpoints it names,
  as in a ``pyannote/speaker-diarization-community-1`` or ``-3.1`` snapshot);
- a Hugging Face hub id, only when the caller explicitly allows a download;
- explicit segmentation and embedding checkpoints (and optionally a PLDA directory).

Audio is handed to pyannote in memory (``{"waveform", "sample_rate"}``); pyannote never decodes
files here. Speakers come back as ``spk0``, ``spk1``... in order of first appearance.
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline.diarize import DiarizationResult, split_confidence
from pipeline.models import PROJECT_MODELS_DIR, ModelError, load_manifest, prepare_model
from pipeline.types import Audio, Segment, Turn

PIPELINE_KIND = "pyannote-pipeline"
DEFAULT_MANIFEST_NAME = "pyannote-community-1"
CALL_SPEAKERS = 2  # a call is an agent and a customer unless told otherwise
CHECKPOINT_FILENAME = "pytorch_model.bin"  # pyannote's name for a model inside a directory
PLDA_FILENAMES = ("xvec_transform.npz", "plda.npz")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# Hyper-parameters for pipelines built from bare checkpoints: those shipped with
# speaker-diarization-3.1 (agglomerative) and -community-1 (VBx, needs a PLDA).
AGGLOMERATIVE_PARAMS = {
    "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": 0.7045654963945799},
    "segmentation": {"min_duration_off": 0.0},
}
VBX_PARAMS = {
    "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
    "segmentation": {"min_duration_off": 0.0},
}
NON_POWERSET_SEGMENTATION_THRESHOLD = 0.5  # only multi-label segmentation models have one


@dataclass
class PyannoteDiarization:
    """One call's pyannote result.

    ``turns`` keep overlapping speech (both speakers hold a turn where they talk at once);
    ``exclusive_turns`` give each instant to at most one speaker; ``overlaps`` are the spans
    where two or more speakers talk at once.
    """

    turns: list[Turn] = field(default_factory=list)
    exclusive_turns: list[Turn] = field(default_factory=list)
    overlaps: list[Segment] = field(default_factory=list)
    confidence: float | None = None  # how clearly the chunk embeddings fall to their speakers

    @property
    def overlap_s(self) -> float:
        return sum(span.duration_s for span in self.overlaps)


class PyannoteDiarizer:
    """Mono-call diarizer on a pyannote.audio ``SpeakerDiarization`` pipeline.

    Give exactly one of ``source`` (a local pipeline directory or its ``config.yaml``, or a hub id
    with ``allow_download=True``) or ``segmentation`` + ``embedding`` checkpoints (a
    ``pytorch_model.bin`` file or a directory holding one; ``plda`` is a directory with
    ``xvec_transform.npz`` and ``plda.npz`` and switches clustering to VBx).

    Speaker counts: ``num_speakers`` fixes it; else ``min_speakers``/``max_speakers`` bound it;
    with none of the three a call is taken to have exactly two speakers. ``params`` overrides
    pipeline hyper-parameters (e.g. ``{"clustering": {"threshold": 0.65}}``).
    """

    def __init__(
        self,
        source: str | Path | None = None,
        *,
        segmentation: str | Path | None = None,
        embedding: str | Path | None = None,
        plda: str | Path | None = None,
        token: str | None = None,
        allow_download: bool = False,
        cache_dir: str | Path | None = None,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        device: str = "cpu",
        params: dict[str, Any] | None = None,
        exclusive_turns: bool = False,
        name: str | None = None,
    ):
        self.speaker_counts = _speaker_counts(num_speakers, min_speakers, max_speakers)
        self.exclusive_turns = exclusive_turns
        if source is not None and (segmentation is not None or embedding is not None):
            raise ValueError(
                "give either a pipeline source or segmentation+embedding checkpoints, not both"
            )
        if source is not None:
            self.pipeline, label = _load_source(source, token, allow_download, cache_dir)
        elif segmentation is not None and embedding is not None:
            self.pipeline = _build_from_checkpoints(segmentation, embedding, plda)
            label = f"{_label(segmentation)}+{_label(embedding)}"
        else:
            raise ValueError(
                "PyannoteDiarizer needs a pipeline directory (or hub id), or both segmentation= and "
                "embedding= checkpoints"
            )
        self.name = name or f"pyannote:{label}"
        if params:
            try:
                self.pipeline.instantiate(params)
            except ValueError as exc:
                raise ValueError(
                    f"{self.name}: bad pyannote hyper-parameters {params}: {exc}"
                ) from exc
        if not self.pipeline.instantiated:
            missing = sorted(
                set(_flatten(self.pipeline.parameters()))
                - set(_flatten(self.pipeline.parameters(instantiated=True)))
            )
            raise ModelError(
                f"{self.name}: pipeline hyper-parameters {missing} have no value; set them in the "
                "config.yaml 'params' section or pass params={...}"
            )
        self.device = _to_device(self.pipeline, device, self.name)

    def diarize(self, audio: Audio) -> PyannoteDiarization:
        """Run the pipeline on channel 0 of ``audio`` (a mono call, or one saved as dual mono)."""
        import torch

        if audio.frames == 0:
            return PyannoteDiarization()
        # pyannote takes the waveform whole: the memory budget counts a mono call's channel for it
        waveform = torch.from_numpy(np.ascontiguousarray(audio.read(channel=0)[None, :], dtype=np.float32))
        file = {
            "waveform": waveform,
            "sample_rate": int(audio.sample_rate),
            "uri": Path(audio.path).stem or "call",
        }
        steps: dict[str, Any] = {}

        def keep_embeddings(step_name, step_artefact, file=None, **progress):
            if step_name == "embeddings" and not progress:  # the whole array, not a batch
                steps["embeddings"] = step_artefact

        with warnings.catch_warnings():
            # pyannote warns when a short call cannot reach min_speakers; the turns still stand.
            warnings.filterwarnings("ignore", message=r"\s*The detected number of speakers")
            output = self.pipeline(file, hook=keep_embeddings, **self.speaker_counts)
        regular, exclusive = _annotations(output)
        names = _speaker_names(regular, exclusive)
        duration_s = audio.duration_s
        return PyannoteDiarization(
            turns=_turns(regular, names, duration_s),
            exclusive_turns=_turns(exclusive, names, duration_s) if exclusive is not None else [],
            overlaps=_spans(regular.get_overlap(), duration_s),
            confidence=_confidence(steps.get("embeddings"), output, len(names)),
        )

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> DiarizationResult:
        """Turns for a mono call; no turns when voice activity found no speech on channel 0.

        Turns keep overlapping speech unless ``exclusive_turns=True`` was asked for, so talk-over
        measures work as they do on dual-channel calls.
        """
        if speech_regions and not speech_regions[0]:
            return DiarizationResult((), 0, None)
        result = self.diarize(audio)
        turns = result.exclusive_turns if self.exclusive_turns and result.exclusive_turns else result.turns
        return DiarizationResult(
            tuple(turns), len({turn.speaker for turn in turns}), result.confidence
        )


def load_pyannote_diarizer(
    model: str | Path = DEFAULT_MANIFEST_NAME,
    models_dir: str | Path | None = None,
    *,
    token: str | None = None,
    allow_download: bool = False,
    manifest: dict[str, dict[str, Any]] | None = None,
    **options: Any,
) -> PyannoteDiarizer:
    """A manifest name (``pyannote-community-1``), a local pipeline path, or a hub id -> diarizer.

    A manifest model is read from ``models_dir/<local_dir>``; when it is absent it is downloaded
    from its hub id only with ``allow_download=True``. ``options`` go to ``PyannoteDiarizer``.
    """
    manifest = manifest if manifest is not None else load_manifest()
    name = str(model)
    if name in manifest:
        entry = manifest[name]
        if entry.get("kind") != PIPELINE_KIND:
            raise ModelError(
                f"model {name!r} is a {entry.get('kind')} model, not a pyannote pipeline"
            )
        try:
            directory = prepare_model(name, entry, Path(models_dir or PROJECT_MODELS_DIR))
        except ModelError:
            if not (allow_download and entry.get("hub_id")):
                raise
            return PyannoteDiarizer(
                entry["hub_id"],
                token=token,
                allow_download=True,
                name=f"pyannote:{name}",
                **options,
            )
        return PyannoteDiarizer(directory, name=f"pyannote:{name}", **options)
    return PyannoteDiarizer(model, token=token, allow_download=allow_download, **options)


# --- loading -----------------------------------------------------------------------------------


def _pyannote():
    """Import pyannote.audio lazily (seconds of import time) without its torchcodec warning:
    audio is always passed in memory, so its file decoder is never used."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*torchcodec")
        import pyannote.audio
        from pyannote.audio.pipelines import SpeakerDiarization  # noqa: F401
    return pyannote.audio


def _pull_hint(what: str) -> str:
    return (
        f"{what}. Run `callqa models pull {DEFAULT_MANIFEST_NAME} --token HF_TOKEN` where the "
        "Hugging Face hub is reachable (accept the model's terms on the hub first), or put a local "
        "copy of the pipeline (config.yaml with its segmentation/, embedding/, plda/ folders) under "
        "models/pyannote/speaker-diarization-community-1"
    )


def _load_source(
    source: str | Path, token: str | None, allow_download: bool, cache_dir: str | Path | None
):
    path = Path(source).expanduser()
    if path.exists():
        config_path = path / "config.yaml" if path.is_dir() else path
        if not config_path.is_file():
            raise ModelError(
                _pull_hint(f"{path} has no config.yaml, so it is not a pyannote pipeline directory")
            )
        label = path.name if path.is_dir() else path.parent.name
        return _build_from_config(config_path, token, allow_download), label
    text = str(source)
    if not HUB_ID.match(text) or text.startswith((".", "/", "~")):
        raise ModelError(_pull_hint(f"no pyannote pipeline at {path}"))
    if not allow_download:
        raise ModelError(
            _pull_hint(
                f"{text!r} is not a local directory and downloading from the model hub is off"
            )
        )
    pyannote_audio = _pyannote()
    try:
        pipeline = pyannote_audio.Pipeline.from_pretrained(text, token=token, cache_dir=cache_dir)
    except Exception as exc:  # huggingface_hub raises many kinds: offline, gated, not found
        raise ModelError(
            f"could not download pyannote pipeline {text!r} from the Hugging Face hub: {exc}. "
            "Check the token, that the model's terms are accepted, and that HF_HUB_OFFLINE is not set."
        ) from exc
    if pipeline is None:
        raise ModelError(
            f"could not download pyannote pipeline {text!r}: the hub gave no config.yaml"
        )
    return pipeline, text


def _build_from_config(config_path: Path, token: str | None, allow_download: bool):
    """Load a pipeline config.yaml, with every model it names resolved to a local file first."""
    try:
        config = yaml.safe_load(config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{config_path}: cannot read pyannote pipeline config: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("pipeline"), dict):
        raise ModelError(f"{config_path}: not a pyannote pipeline config (no 'pipeline' section)")
    config = copy.deepcopy(config)
    base = config_path.parent
    params = config["pipeline"].setdefault("params", {}) or {}
    config["pipeline"]["params"] = params
    for key in ("segmentation", "embedding"):
        if key in params:
            params[key] = _resolve_model(params[key], base, key, config_path, allow_download)
    clustering = params.get("clustering", "VBxClustering")  # pyannote 4's default
    if "plda" in params:
        params["plda"] = _resolve_plda(params["plda"], base, config_path, allow_download)
    elif clustering == "VBxClustering":
        raise ModelError(f"{config_path}: clustering is VBxClustering but the config names no plda")
    else:
        params["plda"] = _unused_plda()
    pyannote_audio = _pyannote()
    try:
        return pyannote_audio.Pipeline.from_pretrained(config, token=token)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{config_path}: cannot build the pyannote pipeline: {exc}") from exc


def _build_from_checkpoints(
    segmentation: str | Path, embedding: str | Path, plda: str | Path | None
):
    _pyannote()
    from pyannote.audio.pipelines import SpeakerDiarization

    segmentation_model = _load_model(
        _checkpoint_file(Path(segmentation).expanduser(), "segmentation"), "segmentation"
    )
    embedding_model = _load_model(
        _checkpoint_file(Path(embedding).expanduser(), "embedding"), "embedding"
    )
    loaded_plda = _load_plda(Path(plda).expanduser(), "plda") if plda is not None else None
    try:
        pipeline = SpeakerDiarization(
            segmentation=segmentation_model,
            embedding=embedding_model,
            plda=loaded_plda if loaded_plda is not None else _unused_plda(),
            clustering="VBxClustering" if loaded_plda is not None else "AgglomerativeClustering",
            embedding_exclude_overlap=True,
            segmentation_batch_size=32,
            embedding_batch_size=32,
        )
    except Exception as exc:
        raise ModelError(
            f"cannot build a pyannote pipeline from {segmentation} and {embedding}: {exc}"
        ) from exc
    params = copy.deepcopy(VBX_PARAMS if loaded_plda is not None else AGGLOMERATIVE_PARAMS)
    if not segmentation_model.specifications.powerset:
        params["segmentation"]["threshold"] = NON_POWERSET_SEGMENTATION_THRESHOLD
    return pipeline.instantiate(params)


def _local_path(value: Any, base: Path) -> Path | None:
    """A config reference ('$model/x', relative or absolute path, {'checkpoint', 'subfolder'}) -> local path."""
    if isinstance(value, dict) and "checkpoint" in value:
        found = _local_path(value["checkpoint"], base)
        return found / value["subfolder"] if found is not None and value.get("subfolder") else found
    if not isinstance(value, (str, Path)):
        return None
    text = str(value)
    if text.startswith("$model/"):
        return base / text.removeprefix("$model/").split("@")[0]
    path = Path(text).expanduser()
    if not path.is_absolute() and (base / path).exists():
        return base / path
    return path if path.exists() else None


def _resolve_model(value: Any, base: Path, key: str, config_path: Path, allow_download: bool):
    if not isinstance(value, (str, Path, dict)):
        return value  # already a model object
    path = _local_path(value, base)
    if path is None:
        if allow_download:
            return value  # pyannote fetches it from the hub
        raise ModelError(
            _pull_hint(
                f"{config_path}: {key} {value!r} is neither a local file nor a folder beside config.yaml, "
                "and downloading from the model hub is off"
            )
        )
    return _load_model(_checkpoint_file(path, f"{config_path}: {key}"), key)


def _resolve_plda(value: Any, base: Path, config_path: Path, allow_download: bool):
    if not isinstance(value, (str, Path, dict)):
        return value
    path = _local_path(value, base)
    if path is None:
        if allow_download:
            return value
        raise ModelError(
            _pull_hint(
                f"{config_path}: plda {value!r} is not a local folder and downloading is off"
            )
        )
    return _load_plda(path, f"{config_path}: plda")


def _checkpoint_file(path: Path, where: str) -> Path:
    if path.is_dir():
        path = path / CHECKPOINT_FILENAME
    if not path.is_file():
        raise ModelError(_pull_hint(f"{where}: checkpoint {path} is missing"))
    return path


def _load_model(path: Path, role: str):
    from pyannote.audio import Model

    try:
        model = Model.from_pretrained(path, map_location="cpu", strict=False)
    except Exception as exc:
        raise ModelError(
            f"{path}: not a pyannote.audio {role} checkpoint this version can load: {exc}"
        ) from exc
    if model is None:
        raise ModelError(f"{path}: pyannote.audio could not load this {role} checkpoint")
    return model.eval()


def _load_plda(path: Path, where: str):
    from pyannote.audio.core.plda import PLDA

    missing = [name for name in PLDA_FILENAMES if not (path / name).is_file()]
    if missing:
        raise ModelError(_pull_hint(f"{where}: {path} lacks {', '.join(missing)}"))
    try:
        return PLDA.from_pretrained(path)
    except Exception as exc:
        raise ModelError(f"{path}: cannot load the PLDA: {exc}") from exc


def _unused_plda():
    """A stand-in PLDA for clustering that never uses one.

    pyannote 4's SpeakerDiarization loads its ``plda`` argument whatever the clustering, and its
    default is the community-1 PLDA on the Hugging Face hub: passing this keeps it off the network.
    """
    from pyannote.audio.core.plda import PLDA

    class UnusedPLDA(PLDA):
        def __init__(self):
            pass

        def __call__(self, embeddings):
            raise RuntimeError(
                "this pyannote pipeline was built without a PLDA (VBx clustering needs one)"
            )

    return UnusedPLDA()


def _to_device(pipeline, device: str, name: str) -> str:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(
            f"{name}: device {device!r} asked for, but torch sees no CUDA GPU; use device='cpu'"
        )
    try:
        pipeline.to(torch.device(device))
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"{name}: cannot move the pyannote pipeline to {device!r}: {exc}") from exc
    return device


# --- results -----------------------------------------------------------------------------------


def _annotations(output):
    """pyannote 4's DiarizeOutput, or a plain Annotation (legacy pipelines) -> (regular, exclusive)."""
    regular = getattr(output, "speaker_diarization", None)
    if regular is not None:
        return regular, getattr(output, "exclusive_speaker_diarization", None)
    if hasattr(output, "itertracks"):
        return output, None
    raise TypeError(
        f"pyannote returned {type(output).__name__}, expected an Annotation or DiarizeOutput"
    )


def _confidence(embeddings, output, speakers: int) -> float | None:
    """How clearly pyannote's chunk embeddings fall to the speakers it found (``split_confidence``).

    ``embeddings`` is (chunks, local speakers, dimension), NaN where a local speaker is silent;
    the speakers' centroids come with pyannote 4's output.
    """
    centroids = getattr(output, "speaker_embeddings", None)
    if embeddings is None or centroids is None or speakers == 0:
        return None
    if speakers == 1:
        return 0.0  # asked for one, found one: there is no split to be sure of
    vectors = np.asarray(embeddings, dtype=np.float64).reshape(-1, np.shape(embeddings)[-1])
    vectors = vectors[~np.isnan(vectors).any(axis=1)]
    centroids = np.asarray(centroids, dtype=np.float64)
    centroids = centroids[~np.isnan(centroids).any(axis=1) & (np.abs(centroids).sum(axis=1) > 0)]
    if len(vectors) < 2 or len(centroids) < 2:
        return 0.0
    return split_confidence(vectors, centroids)


def _speaker_names(*annotations) -> dict[Any, str]:
    """pyannote labels -> spk0, spk1... in order of first appearance (first annotation first)."""
    names: dict[Any, str] = {}
    for annotation in annotations:
        if annotation is None:
            continue
        tracks = sorted(
            annotation.itertracks(yield_label=True), key=lambda t: (t[0].start, t[0].end)
        )
        for _, _, label in tracks:
            names.setdefault(label, f"spk{len(names)}")
    return names


def _turns(annotation, names: dict[Any, str], duration_s: float) -> list[Turn]:
    turns = []
    for span, _, label in annotation.itertracks(yield_label=True):
        clipped = _clip(span, duration_s)
        if clipped is not None:
            turns.append(Turn(names[label], clipped.start_s, clipped.end_s))
    return sorted(turns, key=lambda turn: (turn.start_s, turn.end_s, turn.speaker))


def _spans(timeline, duration_s: float) -> list[Segment]:
    return [clipped for span in timeline if (clipped := _clip(span, duration_s)) is not None]


def _clip(span, duration_s: float) -> Segment | None:
    """A pyannote span inside the call, to the millisecond (as pyannote serialises); None if empty.

    pyannote pads the last window, so a span can run past the end of the call.
    """
    start_s = round(max(0.0, float(span.start)), 3)
    end_s = round(min(duration_s, float(span.end)), 3)
    return Segment(start_s, end_s) if end_s > start_s else None


# --- small helpers -----------------------------------------------------------------------------


def _speaker_counts(num: int | None, low: int | None, high: int | None) -> dict[str, int]:
    for label, value in (("num_speakers", num), ("min_speakers", low), ("max_speakers", high)):
        if value is not None and value < 1:
            raise ValueError(f"{label} must be at least 1, got {value}")
    if low is not None and high is not None and low > high:
        raise ValueError(f"min_speakers ({low}) is larger than max_speakers ({high})")
    if num is not None:
        return {"num_speakers": num}
    if low is None and high is None:
        return {"num_speakers": CALL_SPEAKERS}
    return {
        key: value
        for key, value in (("min_speakers", low), ("max_speakers", high))
        if value is not None
    }


def _label(path: str | Path) -> str:
    path = Path(path)
    return path.parent.name if path.name == CHECKPOINT_FILENAME else path.stem or path.name


def _flatten(params: dict, prefix: str = "") -> list[str]:
    names = []
    for key, value in params.items():
        if isinstance(value, dict):
            names.extend(_flatten(value, f"{prefix}{key}."))
        else:
            names.append(f"{prefix}{key}")
    return names
