"""One settings object for the whole pipeline, loaded from defaults, a YAML file, env and flags.

Each stage keeps its own options beside its code (``vad.VadOptions``, ``transcribe.AsrOptions``,
``diarize.DiarizationOptions``, ``redact.RedactionConfig``, ...); this module only composes them,
and no stage imports it.
"""

from __future__ import annotations

from pathlib import Path
import yaml
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.audio import AudioOptions
from pipeline.categories import DEFAULT_CATEGORIES_PATH
from pipeline.diarize import DiarizationOptions
from pipeline.engines import EngineOptions
from pipeline.features import FeatureOptions
from pipeline.features.customer import CustomerOptions
from pipeline.memory import MemoryFigures
from pipeline.metadata import MetadataOptions
from pipeline.queue import QueuePolicy
from pipeline.redact import RedactionConfig
from pipeline.redacted_audio import RedactedAudioOptions
from pipeline.rubric import DEFAULT_RUBRIC_PATH
from pipeline.transcribe import AsrOptions
from pipeline.vad import BleedOptions, VadOptions


class Settings(BaseSettings):
    """Everything a run needs. Env vars: ``CALLQA_...`` (nested with ``__``)."""

    model_config = SettingsConfigDict(env_prefix="CALLQA_", env_nested_delimiter="__")

    models_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "models",
        description="where assembled/local weights live",
    )
    audio: AudioOptions = AudioOptions()
    asr: AsrOptions = AsrOptions()
    vad: VadOptions = VadOptions()
    bleed: BleedOptions = BleedOptions()
    diarization: DiarizationOptions = DiarizationOptions()
    redaction: RedactionConfig = RedactionConfig()
    redacted_audio: RedactedAudioOptions = RedactedAudioOptions()
    features: FeatureOptions = FeatureOptions()
    customer: CustomerOptions = CustomerOptions()
    categories: Path = Field(DEFAULT_CATEGORIES_PATH, description="YAML call reasons (categories) applied to every call")
    rubric: Path = Field(DEFAULT_RUBRIC_PATH, description="YAML rubric the calls are scored against")
    rubric_variables: dict[str, str] = Field(default_factory=dict, description="e.g. {company: Acme Telecom}")
    queue: QueuePolicy = QueuePolicy()
    metadata: MetadataOptions = MetadataOptions()
    channel_map: dict[int, str] = Field(default_factory=lambda: {0: "agent", 1: "customer"})
    max_duration_s: float = Field(4 * 3600.0, gt=0, description="longer recordings are refused")
    min_speech_s: float = Field(
        0.5, ge=0, description="a call with less detected speech is failed as silent"
    )
    workers: int = Field(
        0, ge=0, description="workers: 0 = as many as the CPUs allow (CPUs / engine.cpus_per_worker)"
    )
    engine: EngineOptions = EngineOptions()
    max_memory_gb: float = Field(
        2.0, gt=0, description="memory one worker may use at its peak: the run plans ASR batches and workers within it"
    )
    memory: MemoryFigures = MemoryFigures()

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
