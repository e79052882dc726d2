"""Mono calls, offline: speaker embeddings (Resemblyzer's bundled encoder) on sliding windows over
the speech, clustered with scikit-learn, then smoothed into turns.

Each 1.6 s window (the encoder's training length) gets an embedding at its centre; every 10 ms
speech frame takes the speaker of the windows around it. How much of the windows' spread the
split into speakers explains is kept as the call's diarization confidence (``split_confidence``):
two voices that cannot be told apart give a confidence near 0, whatever the clustering did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import distance_transform_edt, median_filter
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score

from pipeline.diarize import (
    CLEAR_SPLIT_SHARE,
    DOUBTFUL_SPLIT_SHARE,
    DiarizationResult,
    split_confidence,
)
from pipeline.types import Audio, Segment, Turn

MEL_STEP_S = 0.01  # resemblyzer's mel hop: 10 ms
WINDOW_FRAMES = 160  # 1.6 s, the length the encoder was trained on


@dataclass(frozen=True)
class EmbeddedOptions:
    num_speakers: int | None = None
    min_speakers: int = 2
    max_speakers: int = 2
    hop_s: float = 0.2
    smoothing_s: float = 0.5
    min_turn_s: float = 0.3
    min_window_speech_share: float = 0.6
    # An estimated split is a real speaker only when each cluster holds this share of the windows.
    min_cluster_share: float = 0.1
    # Confidence: the share of the windows' spread the split explains, from doubtful to clear.
    doubtful_split_share: float = DOUBTFUL_SPLIT_SHARE
    clear_split_share: float = CLEAR_SPLIT_SHARE


class EmbeddedDiarizer:
    """``diarizer(audio, speech_regions) -> turns`` with speakers ``spk0``, ``spk1``… by first appearance."""

    name = "embedded-resemblyzer"

    def __init__(self, encoder, options: EmbeddedOptions = EmbeddedOptions()):
        self.encoder = encoder  # a loaded resemblyzer VoiceEncoder, shared across calls
        self.options = options

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> DiarizationResult:
        return self.diarize(audio.read(channel=0), audio.sample_rate, speech_regions[0])

    def diarize(
        self, samples: np.ndarray, sample_rate: int, regions: list[Segment]
    ) -> DiarizationResult:
        from resemblyzer.audio import wav_to_mel_spectrogram

        if not regions:
            return DiarizationResult((), 0, None)
        mel = wav_to_mel_spectrogram(samples.astype(np.float32))
        n_frames = mel.shape[0]
        speech = np.zeros(n_frames, dtype=bool)
        for region in regions:
            speech[int(region.start_s / MEL_STEP_S) : int(np.ceil(region.end_s / MEL_STEP_S))] = (
                True
            )

        centres = self._window_centres(speech)
        if len(centres) < 2:
            turns = tuple(Turn("spk0", region.start_s, region.end_s) for region in regions)
            return DiarizationResult(turns, 1, 0.0)
        embeddings = self._embed(mel, centres)
        labels, centroids = self._cluster(embeddings)

        # every speech frame: similarity to each speaker, from the windows covering it
        similarity = embeddings @ centroids.T  # (windows, speakers)
        frame_scores = np.zeros((n_frames, centroids.shape[0]))
        counts = np.zeros(n_frames)
        half = WINDOW_FRAMES // 2
        for centre, score in zip(centres, similarity):
            first, last = max(0, centre - half // 2), min(n_frames, centre + half // 2)
            frame_scores[first:last] += score
            counts[first:last] += 1
        covered = counts > 0
        frame_scores[covered] /= counts[covered, None]
        nearest = _nearest_covered(covered)
        frame_scores = frame_scores[nearest]
        frame_labels = np.argmax(frame_scores, axis=1)
        smooth = max(1, int(self.options.smoothing_s / MEL_STEP_S) | 1)
        frame_labels = median_filter(frame_labels, size=smooth, mode="nearest")
        turns = self._turns(frame_labels, regions)
        confidence = (
            split_confidence(
                embeddings, centroids, self.options.doubtful_split_share, self.options.clear_split_share
            )
            if centroids.shape[0] > 1
            else 0.0
        )
        return DiarizationResult(tuple(turns), centroids.shape[0], round(confidence, 3))

    def _window_centres(self, speech: np.ndarray) -> np.ndarray:
        """Window centres on speech whose 1.6 s span is mostly speech: windows of line noise
        embed as a 'voice' of their own and would pull a speaker apart."""
        hop = max(1, int(self.options.hop_s / MEL_STEP_S))
        candidates = np.arange(0, len(speech), hop)
        candidates = candidates[speech[candidates]]
        cumulative = np.concatenate([[0], np.cumsum(speech)])
        half = WINDOW_FRAMES // 2
        first = np.clip(candidates - half, 0, len(speech))
        last = np.clip(candidates + half, 0, len(speech))
        share = (cumulative[last] - cumulative[first]) / WINDOW_FRAMES
        kept = candidates[share >= self.options.min_window_speech_share]
        return kept if len(kept) >= 2 else candidates

    def _embed(self, mel: np.ndarray, centres: np.ndarray) -> np.ndarray:
        import torch

        half = WINDOW_FRAMES // 2
        padded = np.pad(mel, ((half, half), (0, 0)))
        windows = np.stack([padded[c : c + WINDOW_FRAMES] for c in centres]).astype(np.float32)
        out = []
        with torch.no_grad():
            for start in range(0, len(windows), 256):
                batch = torch.from_numpy(windows[start : start + 256]).to(self.encoder.device)
                out.append(self.encoder(batch).cpu().numpy())
        embeddings = np.concatenate(out)
        return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)

    def _cluster(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        options = self.options
        if options.num_speakers:
            candidates = [options.num_speakers]
        else:
            candidates = list(
                range(
                    max(1, options.min_speakers),
                    max(options.min_speakers, options.max_speakers) + 1,
                )
            )
        best = None
        for k in candidates:
            if k == 1:
                labels = np.zeros(len(embeddings), dtype=int)
                score = 0.0
            else:
                if len(embeddings) <= k:
                    continue
                labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(
                    embeddings
                )
                labels = _refine(embeddings, labels, k)
                score = (
                    float(silhouette_score(embeddings, labels, metric="cosine"))
                    if len(set(labels)) > 1
                    else 0.0
                )
            if best is None or score > best[1]:
                best = (labels, score)
        labels, score = best if best else (np.zeros(len(embeddings), dtype=int), 0.0)
        centroids = np.stack([embeddings[labels == k].mean(axis=0) for k in sorted(set(labels))])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        return labels, centroids

    def _turns(self, frame_labels: np.ndarray, regions: list[Segment]) -> list[Turn]:
        runs: list[list] = []  # [label, start_s, end_s]
        for region in regions:
            first = int(region.start_s / MEL_STEP_S)
            last = min(len(frame_labels), int(np.ceil(region.end_s / MEL_STEP_S)))
            if last <= first:
                continue
            labels = frame_labels[first:last]
            changes = np.flatnonzero(np.diff(labels)) + 1
            bounds = [0, *changes.tolist(), len(labels)]
            for a, b in zip(bounds[:-1], bounds[1:]):
                start_s = region.start_s if a == 0 else (first + a) * MEL_STEP_S
                end_s = region.end_s if b == len(labels) else (first + b) * MEL_STEP_S
                runs.append([int(labels[a]), start_s, end_s])
        runs = _absorb_short(runs, self.options.min_turn_s)
        order: dict[int, str] = {}
        turns = []
        for label, start_s, end_s in runs:
            speaker = order.setdefault(label, f"spk{len(order)}")
            turns.append(Turn(speaker, round(start_s, 3), round(end_s, 3)))
        return turns


def _refine(embeddings: np.ndarray, labels: np.ndarray, k: int, rounds: int = 3) -> np.ndarray:
    """A few nearest-centroid passes: ward's tree makes early merges it cannot undo."""
    for _ in range(rounds):
        if len(set(labels)) < k:
            break
        centroids = np.stack([embeddings[labels == j].mean(axis=0) for j in range(k)])
        new = np.argmax(embeddings @ centroids.T, axis=1)
        if np.array_equal(new, labels) or len(set(new)) < k:
            break
        labels = new
    return labels


def _nearest_covered(covered: np.ndarray) -> np.ndarray:
    """Index of the nearest covered frame for every frame (uncovered ones borrow a neighbour's)."""
    if not covered.any():
        return np.arange(len(covered))
    _, (indices,) = distance_transform_edt(~covered, return_indices=True)
    return indices


def _absorb_short(runs: list[list], min_s: float) -> list[list]:
    """Runs shorter than ``min_s`` join the neighbour they touch; touching same-speaker runs merge."""
    changed = True
    while changed:
        changed = False
        for i, (label, start_s, end_s) in enumerate(runs):
            if end_s - start_s >= min_s or len(runs) == 1:
                continue
            prev_touch = i > 0 and abs(runs[i - 1][2] - start_s) < 1e-6
            next_touch = i + 1 < len(runs) and abs(runs[i + 1][1] - end_s) < 1e-6
            if prev_touch:
                runs[i - 1][2] = end_s
            elif next_touch:
                runs[i + 1][1] = start_s
            else:
                continue
            del runs[i]
            changed = True
            break
    merged: list[list] = []
    for run in runs:
        if merged and merged[-1][0] == run[0] and abs(merged[-1][2] - run[1]) < 1e-6:
            merged[-1][2] = run[2]
        else:
            merged.append(list(run))
    return merged
