# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Who speaks when: speaker embeddings of stretches of speech, clustered into speakers with scikit-learn.

Embedding models (`get_speaker_encoder(name)`):

- `"resemblyzer"` (the default): the GE2E speaker encoder of the pip package `resemblyzer` (a 3-layer LSTM over
  40 mel bands, 256-d embeddings, trained on VoxCeleb + LibriSpeech). Its weights ship inside the wheel, so it
  works offline; the network is re-built here from those weights (the package's own `__init__` imports
  `webrtcvad`, which needs `pkg_resources`, gone from recent setuptools), with the package's mel front end.
- any other name: a `transformers` audio x-vector model id or folder (`AutoModelForAudioXVector`, e.g.
  `microsoft/wavlm-base-plus-sv` or `anton-l/wav2vec2-base-superb-sv`), for users with the Hub.

`cluster_speakers(embeddings, num_speakers, max_speakers)` groups embeddings by agglomerative clustering (cosine,
average linkage); with `num_speakers=None` the count is chosen by the silhouette score (one speaker when no split
is convincing).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Sequence

import numpy as np

from .audio import SAMPLING_RATE

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def without_onednn():
    """Run torch's CPU kernels without oneDNN inside the block. oneDNN caches an LSTM kernel for every new batch
    shape, so speaker windows of varying lengths make a long recording's process grow; the plain kernels are no
    slower here. (`torch.backends.mkldnn.flags` would also warn about TF32 on every call.)"""
    import torch

    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


class ResemblyzerEncoder:
    """The GE2E speaker encoder whose weights ship in the `resemblyzer` wheel (offline, 256-d, L2-normalised)."""

    name = "resemblyzer"

    def __init__(self, device: str = "cpu"):
        import torch
        from torch import nn

        spec = importlib.util.find_spec("resemblyzer")  # locates the package without running its __init__
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(
                "the default speaker encoder needs the 'resemblyzer' package: pip install 'mcn-cl[recording]'"
            )
        weights = os.path.join(list(spec.submodule_search_locations)[0], "pretrained.pt")
        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval().to(device)
        self.linear.eval().to(device)
        self.device = device
        from librosa.filters import mel

        # resemblyzer's front end: 25 ms Hann windows every 10 ms, power spectrum, 40 mel bands (no log)
        self.mel_basis = torch.from_numpy(mel(sr=SAMPLING_RATE, n_fft=400, n_mels=40)).float()
        self.window = torch.hann_window(400)

    def _mel(self, samples: np.ndarray):
        import torch

        x = samples.astype(np.float64)
        rms = np.sqrt(np.mean((x * 32767) ** 2)) if x.size else 0.0
        if rms > 0:  # resemblyzer's volume normalisation: up to -30 dBFS, never down
            gain = 10 ** ((-30 - 20 * np.log10(rms / 32767)) / 20)
            x = x * max(gain, 1.0)
        spec = torch.stft(
            torch.from_numpy(x.astype(np.float32)),
            400,
            160,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return (self.mel_basis @ spec.abs().pow(2)).T  # [frames, 40]

    def embed(self, segments: Sequence[np.ndarray]) -> np.ndarray:
        """One L2-normalised embedding per 16 kHz waveform (of any length; the LSTM reads all of it)."""
        import torch
        from torch.nn.utils.rnn import pack_sequence

        if not segments:
            return np.zeros((0, 256), np.float32)
        mels = [self._mel(s) for s in segments]
        order = sorted(range(len(mels)), key=lambda i: -mels[i].shape[0])
        with torch.inference_mode(), without_onednn():
            packed = pack_sequence([mels[i].to(self.device) for i in order], enforce_sorted=True)
            _, (hidden, _) = self.lstm(packed)
            raw = torch.relu(self.linear(hidden[-1]))
            raw = raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-8)
        out = np.empty((len(mels), 256), np.float32)
        out[order] = raw.cpu().numpy()
        return out


class TransformersXVectorEncoder:
    """A `transformers` x-vector model (`AutoModelForAudioXVector`): its `embeddings`, L2-normalised."""

    def __init__(self, model_id: str, device: str = "cpu"):
        from transformers import AutoFeatureExtractor, AutoModelForAudioXVector

        self.name = model_id
        self.feature_extractor = AutoFeatureExtractor.from_pretrained(model_id)
        self.model = AutoModelForAudioXVector.from_pretrained(model_id).eval().to(device)
        self.device = device

    def embed(self, segments: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        if not segments:
            return np.zeros((0, self.model.config.xvector_output_dim), np.float32)
        inputs = self.feature_extractor(
            [np.asarray(s, np.float32) for s in segments],
            sampling_rate=SAMPLING_RATE,
            padding=True,
            return_tensors="pt",
            return_attention_mask=True,
        ).to(self.device)
        with torch.inference_mode():
            emb = self.model(**inputs).embeddings
        emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb.cpu().numpy().astype(np.float32)


def get_speaker_encoder(name: str | None = None, device: str = "cpu"):
    """The speaker encoder `name`: `"resemblyzer"` (default, offline) or a `transformers` x-vector model id."""
    if name is None or name == "resemblyzer":
        return ResemblyzerEncoder(device)
    return TransformersXVectorEncoder(name, device)


def _agglomerative(embeddings: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(embeddings)


def cluster_speakers(
    embeddings: np.ndarray,
    num_speakers: int | None = None,
    max_speakers: int = 8,
    min_silhouette: float = 0.12,
    max_centroid_similarity: float = 0.9,
) -> np.ndarray:
    """Speaker labels 0, 1, ... (numbered by first appearance) of L2-normalised `embeddings` [N, D].

    Args:
        num_speakers: the number of speakers, if known (capped at N).
        max_speakers: the largest number tried when choosing automatically (and a cap on `num_speakers`).
        min_silhouette: below this best silhouette score (cosine), all embeddings are one speaker.
        max_centroid_similarity: when choosing, a split whose speaker centroids are this similar (cosine) or
            more is not considered (a tight group of one voice splits with a fair silhouette all the same).
    """
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, np.int64)
    if num_speakers is not None:
        k = max(1, min(int(num_speakers), n, max_speakers))
        labels = np.zeros(n, np.int64) if k == 1 else _agglomerative(embeddings, k)
    elif n < 3:
        sims = embeddings @ embeddings.T
        labels = np.array([0, 0 if sims[0, 1] > 0.75 else 1])[:n]
    else:
        best, labels = min_silhouette, np.zeros(n, np.int64)
        for k in range(2, min(max_speakers, n - 1) + 1):
            candidate = _agglomerative(embeddings, k)
            c = centroids(embeddings, candidate)
            if (c @ c.T - 2 * np.eye(k)).max() >= max_centroid_similarity:
                continue
            score = silhouette_score(embeddings, candidate, metric="cosine")
            if score > best:
                best, labels = score, candidate
    first = {}
    for lab in labels:
        first.setdefault(int(lab), len(first))
    return np.array([first[int(lab)] for lab in labels], np.int64)


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The L2-normalised mean embedding of each label 0..max(labels)."""
    out = np.stack([embeddings[labels == k].mean(axis=0) for k in range(int(labels.max()) + 1)])
    return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-8)
