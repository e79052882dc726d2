"""Audio intake: every kind of bad file is refused with the file and the reason; good files decode."""

import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio import AudioError, discover, is_dual_mono, load_audio
from tests.conftest import place


def write(path, samples, rate=8000, **kwargs):
    sf.write(path, samples.T if samples.ndim == 2 else samples, rate, **kwargs)
    return path


@pytest.fixture
def speechlike():
    return place(2.0, [(0.2, 1.8)], rate=8000)


def test_decodes_to_16k_and_keeps_channels(tmp_path, speechlike):
    stereo = np.stack([speechlike, 0.5 * speechlike])
    audio = load_audio(write(tmp_path / "call.flac", stereo, subtype="PCM_16"))
    assert audio.channels == 2
    assert audio.sample_rate == 16_000 and audio.source_sample_rate == 8000
    assert audio.duration_s == pytest.approx(2.0, abs=0.01)
    assert len(audio.sha256) == 64


def test_content_decides_not_extension(tmp_path, speechlike):
    # a FLAC file saved with a .wav name is still a good recording
    path = write(tmp_path / "misnamed.flac", speechlike)
    renamed = tmp_path / "misnamed.wav"
    shutil.move(path, renamed)
    assert load_audio(renamed).duration_s == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("empty.wav", lambda p: p.write_bytes(b""), "empty file"),
        ("corrupt.wav", lambda p: p.write_bytes(os.urandom(4096)), "not a decodable audio file"),
        ("notes.mp3", lambda p: p.write_text("call notes, not audio\n" * 50), "not a decodable audio file"),
        ("zero.wav", lambda p: write(p, np.zeros(0, dtype=np.float32)), "zero length"),
        ("surround.wav", lambda p: write(p, np.zeros((3, 8000), dtype=np.float32)), "3 channels"),
        ("lowrate.wav", lambda p: write(p, np.zeros(4000, dtype=np.float32), rate=4000), "below the 8000 Hz"),
    ],
)
def test_bad_files_are_refused_with_file_and_reason(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioError, match=reason) as caught:
        load_audio(path)
    assert str(path) in str(caught.value)


def test_truncated_file_is_refused(tmp_path, speechlike):
    path = write(tmp_path / "cut.wav", np.tile(speechlike, 3), subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header still promises 6 s
    with pytest.raises(AudioError, match="truncated"):
        load_audio(path)


def test_enormous_file_is_refused_by_the_duration_limit(tmp_path, speechlike):
    path = write(tmp_path / "long.wav", np.tile(speechlike, 5))
    with pytest.raises(AudioError, match="limit"):
        load_audio(path, max_duration_s=5.0)


def test_missing_and_dangling_paths(tmp_path):
    link = tmp_path / "gone.wav"
    link.symlink_to(tmp_path / "nowhere.wav")
    for path in (tmp_path / "absent.wav", link):
        with pytest.raises(AudioError, match="not found"):
            load_audio(path)


def test_dual_mono_detected(speechlike):
    assert is_dual_mono(np.stack([speechlike, 0.7 * speechlike]))
    other = place(2.0, [(1.0, 1.5)], rate=8000)
    assert not is_dual_mono(np.stack([speechlike, other]))


def test_discover_expands_folders_and_globs_and_keeps_explicit_files(tmp_path, speechlike):
    (tmp_path / "day1").mkdir()
    write(tmp_path / "day1" / "a.wav", speechlike)
    write(tmp_path / "day1" / "b.flac", speechlike)
    (tmp_path / "day1" / "readme.txt").write_text("not audio")
    explicit = tmp_path / "odd.txt"
    explicit.write_text("x")
    found = discover([str(tmp_path / "day1"), str(tmp_path / "day1" / "*.wav"), str(explicit)])
    assert sorted(p.name for p in found) == ["a.wav", "b.flac", "odd.txt"]
