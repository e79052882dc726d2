"""What real lines do to real speech, made at test time: car and street noise at a given SNR,
clipping, level changes, and the other side's voice leaking in. Used by tests and benchmarks on
the shared real calls (read in place from ../shared/eval, never copied).

Noise is synthetic but shaped like the real thing on an 8 kHz telephone line: car noise is
low-frequency rumble with engine harmonics; street noise is broadband with passing vehicles
swelling it by up to 8 dB every few seconds. Seeds are fixed, so a condition is the same signal
on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

TELEPHONE_BAND_HZ = (300.0, 3400.0)


def _band(noise: np.ndarray, rate: int) -> np.ndarray:
    sos = signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=rate, output="sos")
    return signal.sosfilt(sos, noise)


def car_noise(samples: int, rate: int, seed: int = 1) -> np.ndarray:
    """Engine and road rumble: low-passed noise plus a 38 Hz engine note and its harmonics."""
    rng = np.random.default_rng(seed)
    sos = signal.butter(2, 300.0, btype="lowpass", fs=rate, output="sos")
    rumble = signal.sosfilt(sos, rng.standard_normal(samples))
    t = np.arange(samples) / rate
    engine = sum(0.5 / k * np.sin(2 * np.pi * 38.0 * k * t + k) for k in range(1, 6))
    return _band(rumble / np.std(rumble) + engine, rate)


def street_noise(samples: int, rate: int, seed: int = 2) -> np.ndarray:
    """Traffic: pinkish broadband noise, swelling as vehicles pass (every 9 s or so)."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(samples)
    sos = signal.butter(1, 800.0, btype="lowpass", fs=rate, output="sos")
    t = np.arange(samples) / rate
    swell = 1.0 + 1.5 * np.maximum(0.0, np.sin(2 * np.pi * t / 9.0)) ** 4
    return _band((signal.sosfilt(sos, white) + 0.3 * white) * swell, rate)


def speech_power(channel: np.ndarray, rate: int, spans: Sequence[tuple[float, float]]) -> float:
    """Mean power of ``channel`` over the spans where its party speaks."""
    mask = np.zeros(len(channel), dtype=bool)
    for start_s, end_s in spans:
        mask[int(start_s * rate) : int(end_s * rate)] = True
    return float(np.mean(channel[mask].astype(np.float64) ** 2)) if mask.any() else 0.0


def add_noise(
    channel: np.ndarray, rate: int, noise: np.ndarray, snr_db: float, speech_spans
) -> np.ndarray:
    """``channel`` with ``noise`` mixed in so that its speech stands ``snr_db`` over the noise."""
    gain = np.sqrt(
        speech_power(channel, rate, speech_spans) / (np.mean(noise**2) * 10 ** (snr_db / 10))
    )
    return (channel + gain * noise).astype(np.float32)


def clip(channel: np.ndarray, gain_db: float) -> np.ndarray:
    """An overdriven line: raised by ``gain_db`` and clipped at full scale."""
    return np.clip(channel * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)


def level_jump(channel: np.ndarray, first_db: float, second_db: float) -> np.ndarray:
    """The first half at ``first_db``, the second at ``second_db`` (a handset moved, AGC kicking in)."""
    half = len(channel) // 2
    out = channel.astype(np.float32).copy()
    out[:half] *= 10 ** (first_db / 20)
    out[half:] *= 10 ** (second_db / 20)
    return out


def leak(into: np.ndarray, other: np.ndarray, level_db: float) -> np.ndarray:
    """``into`` with ``other`` leaking in ``level_db`` below (a hybrid or headset echo)."""
    return (into + 10 ** (level_db / 20) * other).astype(np.float32)


CONDITIONS = (
    "car 20", "car 10", "car 5", "street 20", "street 10", "street 5", "clipped", "quiet, then loud",
    "car noise only", "street noise only",
)  # fmt: skip
LEAK_DB = -25.0


def degrade(name: str, agent: np.ndarray, customer: np.ndarray, rate: int, spans) -> np.ndarray:
    """The customer channel under condition ``name`` (see ``CONDITIONS``), always with the agent
    leaking in at ``LEAK_DB``; ``spans`` are the customer's speech (for the SNR)."""
    n = len(customer)
    kind, _, level = name.partition(" ")
    if level == "noise only":  # the customer silent, the line as loud as at 5 dB SNR
        noise = (car_noise if kind == "car" else street_noise)(n, rate)
        customer = add_noise(customer, rate, noise, 5.0, spans) - customer
    elif kind == "car":
        customer = add_noise(customer, rate, car_noise(n, rate), float(level), spans)
    elif kind == "street":
        customer = add_noise(customer, rate, street_noise(n, rate), float(level), spans)
    elif name == "clipped":
        customer = clip(customer, 24.0)
    elif name == "quiet, then loud":
        customer = level_jump(customer, -30.0, 6.0)
    elif name != "clean":
        raise ValueError(f"unknown line condition {name!r}")
    return leak(customer, agent, LEAK_DB)
