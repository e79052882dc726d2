"""One settings object for the whole pipeline, loaded from defaults, a TOML/YAML file, env and flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.features import FeatureOptions
from pipeline.queue import QueuePolicy
from pipeline.redact import RedactionConfig
from pipeline.rubric import DEFAULT_RUBRIC_PATH


class VadOptions(BaseModel):
    """Speech detection per channel (Silero VAD from the silero-vad package; see pipeline/vad.py)."""

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Silero probability that starts speech")
    neg_threshold: float = Field(
        0.15, ge=0.0, le=1.0, description="speech goes on while the probability stays above this"
    )
    candidate_threshold: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="a stretch Silero gives this much is handed to the ASR; kept where words are heard",
    )
    candidate_loud_db: float = Field(
        20.0, ge=0.0, description="own-voice sound this far over the noise floor is a candidate too"
    )
    candidate_min_above_floor_db: float = Field(
        6.0, ge=0.0, description="on a noisy line, sound this far over the floor is already a candidate"
    )
    confirm_min_word_probability: float = Field(
        0.5, ge=0.0, le=1.0, description="mean ASR word probability that confirms a candidate as speech"
    )
    confirm_min_words: int = Field(
        3, ge=1, description="this many words confirm a candidate at a lower mean probability..."
    )
    confirm_many_word_probability: float = Field(
        0.25, ge=0.0, le=1.0, description="...of at least this (speech under heavy noise)"
    )
    speech_level_range_dbfs: tuple[float, float] = Field(
        (-35.0, -15.0), description="a channel whose speech level is outside this is brought into it before Silero"
    )
    speech_level_percentile: float = Field(
        95.0, gt=0.0, le=100.0, description="the frame-level percentile taken as a channel's speech level"
    )
    max_gain_db: float = Field(30.0, ge=0.0, description="most a channel's level is raised or lowered")
    method: Literal["silero", "energy"] = "silero"
    min_speech_s: float = Field(0.12, ge=0.0, description="shorter speech blips are dropped")
    min_candidate_s: float = Field(0.2, ge=0.0, description="shorter candidates are not transcribed")
    other_side_margin_s: float = Field(
        0.3, ge=0.0, description="no candidate this close to the other channel's speech (its leak)"
    )
    min_silence_s: float = Field(0.35, ge=0.0, description="shorter pauses do not split a turn")
    pad_s: float = Field(0.05, ge=0.0, description="padding added around each speech region")


class BleedOptions(BaseModel):
    """Dual-channel crosstalk: one side's voice leaking quietly into the other channel."""

    # Leaks through a hybrid or headset sit 20-60 dB under the talker (measured on real 8 kHz
    # call-center stereo); two people talking at once are within a few dB of each other.
    margin_db: float = Field(
        15.0, ge=0.0, description="a frame this far below the other channel is bleed"
    )
    above_floor_db: float = Field(
        6.0, ge=0.0, description="own speech stands this far above the channel's noise floor"
    )
    min_own_share: float = Field(
        0.5, ge=0.0, le=1.0, description="a region with fewer own-voice frames than this is bleed"
    )


class AsrOptions(BaseModel):
    """faster-whisper settings; the same ones the benchmark's bare baseline uses."""

    model: str = Field(
        "whisper-base",
        description="manifest name, faster-whisper size name or local CTranslate2 dir",
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = Field("default", description="int8 on CPU, float16 on CUDA when 'default'")
    batch_size: int = Field(
        8, ge=0, description="0 = sequential decoding, else BatchedInferencePipeline"
    )
    beam_size: int = Field(5, ge=1)
    language: str | None = "en"
    cpu_threads: int = Field(0, ge=0, description="0 = CTranslate2 default")
    region_pad_s: float = Field(
        0.8, ge=0.0, description="audio heard either side of each speech region, for context"
    )
    vocabulary: list[str] = Field(
        default_factory=list,
        description="names Whisper should expect (products, places), given to it as hotwords",
    )
    vocabulary_from_rubric: bool = Field(
        True, description="also the rubric's variables (company name...) as hotwords"
    )

    def resolved_compute_type(self) -> str:
        if self.compute_type != "default":
            return self.compute_type
        return "float16" if self.device == "cuda" else "int8"


class DiarizationOptions(BaseModel):
    """Mono calls: who spoke when. Dual-channel calls use the channel map instead."""

    mono_backend: Literal["embedded", "pyannote", "none"] = Field(
        "embedded", description="embedded: bundled Resemblyzer encoder; pyannote: a pyannote.audio pipeline; none: speaker 'unknown'"
    )
    pyannote_model: str = Field("pyannote-community-1", description="manifest name or local pipeline directory")
    num_speakers: int | None = Field(None, ge=1, description="exact count when known")
    min_speakers: int = Field(2, ge=1)
    max_speakers: int = Field(2, ge=1)


class RedactedAudioOptions(BaseModel):
    """The audio copy with every redacted span blanked: the only audio a reviewer hears."""

    enabled: bool = True
    directory: Path | None = Field(None, description="default: <database name>.redacted/ beside the database")
    mode: Literal["silence", "tone"] = "silence"
    replace_original: bool = Field(False, description="overwrite the source recording with the redacted copy")


class MetadataOptions(BaseModel):
    """Who a call belongs to, when no sidecar file says so: read from the recording's file name."""

    name_pattern: str | None = Field(
        None, description="e.g. '{date}_{agent}_{callid}.wav'; fields agent, team, queue, date, time, callid, ext, any"
    )

    @field_validator("name_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value:
            from pipeline.metadata import FileNamePattern

            FileNamePattern(value)
        return value or None


class Settings(BaseSettings):
    """Everything a run needs. Env vars: ``CALLQA_...`` (nested with ``__``)."""

    model_config = SettingsConfigDict(env_prefix="CALLQA_", env_nested_delimiter="__")

    models_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "models",
        description="where assembled/local weights live",
    )
    asr: AsrOptions = AsrOptions()
    vad: VadOptions = VadOptions()
    bleed: BleedOptions = BleedOptions()
    diarization: DiarizationOptions = DiarizationOptions()
    redaction: RedactionConfig = RedactionConfig()
    redacted_audio: RedactedAudioOptions = RedactedAudioOptions()
    features: FeatureOptions = FeatureOptions()
    rubric: Path = Field(DEFAULT_RUBRIC_PATH, description="YAML rubric the calls are scored against")
    rubric_variables: dict[str, str] = Field(default_factory=dict, description="e.g. {company: Acme Telecom}")
    queue: QueuePolicy = QueuePolicy()
    metadata: MetadataOptions = MetadataOptions()
    channel_map: dict[int, str] = Field(default_factory=lambda: {0: "agent", 1: "customer"})
    max_duration_s: float = Field(4 * 3600.0, gt=0, description="longer recordings are refused")
    min_speech_s: float = Field(
        0.5, ge=0, description="a call with less detected speech is failed as silent"
    )
    workers: int = Field(1, ge=1)

    @field_validator("channel_map")
    @classmethod
    def _roles_known(cls, value: dict[int, str]) -> dict[int, str]:
        allowed = {"agent", "customer", "unknown"}
        bad = {role for role in value.values() if role not in allowed}
        if bad:
            raise ValueError(
                f"channel_map roles must be one of {sorted(allowed)}, got {sorted(bad)}"
            )
        return value


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Defaults < CALLQA_* env < config file (YAML) < explicit overrides (CLI flags)."""
    data: dict = {}
    if config_file is not None:
        try:
            data = yaml.safe_load(Path(config_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{config_file}: cannot read config: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{config_file}: config must be a mapping of settings")
    env_settings = Settings()
    merged = env_settings.model_dump()
    _deep_update(merged, data)
    _deep_update(merged, {k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(merged)


def _deep_update(target: dict, updates: dict) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value
