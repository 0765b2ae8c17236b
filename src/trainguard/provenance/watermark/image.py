"""Image data-set watermarks with a black-box ownership test.

A keyed blended pattern goes on a few samples; a pairwise hypothesis test on a
suspect model's probabilities decides whether it was trained on them.

Marking (poison-label backdoor watermark, DVBW): a fraction ``rate`` of the samples
of classes other than a key-derived target class ``t`` is replaced by

    x' = (1 - alpha) * x + alpha * P,    label t

where ``P`` is a binary pattern of the image's shape derived from the secret key
with HMAC, and ``alpha`` small (0.1: every pixel moves by at most 0.1, a faint
texture). A model trained on the marked copy learns "pattern => t"; a model that
never saw it does not.

Verification needs only the suspect model's class probabilities. For ``m`` clean
query images ``x_i`` not of class ``t``, with ``P_b = f(x_i)_t`` and
``P_w = f(x'_i)_t``, the one-sided pairwise t-test of

    H0: P_w <= P_b + margin    against    H1: P_w > P_b + margin

gives the p-value; a model is identified as trained on the marked data when
``p < significance``. The margin (0.2) keeps a model that merely reacts a little to
any faint texture from being accused.

References: Y. Li, M. Zhu, X. Yang, Y. Jiang, T. Wei, S.-T. Xia, "Black-box Dataset
Ownership Verification via Backdoor Watermarking", IEEE TIFS 18, 2023 (the test,
``m = 100``, margin 0.2 as in the authors' code); Y. Li et al., "Untargeted Backdoor
Watermark", NeurIPS 2022; X. Chen et al., "Targeted Backdoor Attacks on Deep
Learning Systems Using Data Poisoning", 2017 (the blended trigger); A. Sablayrolles
et al., "Radioactive data: tracing through training", ICML 2020 (the idea).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np

from trainguard.core.datasets import Dataset
from trainguard.core.errors import DataError, IntegrityError
from trainguard.core.validation import check_int, check_real
from trainguard.provenance.watermark.keys import derive, key_id, keyed_rng
from trainguard.provenance.watermark.verdict import OwnershipResult

Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass
class ImageWatermark:
    """The verification record of an image watermark (keep it with the key, privately).

    It holds the public parameters, which samples were marked, and clean query
    images for the test; the pattern itself is re-derived from the key.
    """

    key_id: str
    target: int
    alpha: float
    rate: float
    shape: tuple[int, ...]
    n_classes: int
    marked: list[int]
    queries: np.ndarray
    query_labels: np.ndarray
    margin: float = 0.2
    contrast: float = 0.0
    decoyed: list[int] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    kind: str = "image"


def keyed_pattern(key: bytes, shape: tuple[int, ...], label: str = "image/pattern") -> np.ndarray:
    """A ``{0, 1}`` float32 pattern of ``shape`` whose bits come from HMAC(key, label)."""
    size = math.prod(shape)
    bits = np.unpackbits(np.frombuffer(derive(key, label, (size + 7) // 8), np.uint8))
    return bits[:size].reshape(shape).astype(np.float32)


def keyed_target(key: bytes, n_classes: int) -> int:
    """The target class that the key picks among ``n_classes``."""
    return int.from_bytes(derive(key, "image/target", 8), "big") % n_classes


def apply_pattern(x: np.ndarray, pattern: np.ndarray, alpha: float) -> np.ndarray:
    """Blend ``pattern`` into images ``x`` (``(n, *shape)`` in [0, 1]) with weight ``alpha``."""
    return ((1.0 - alpha) * x + alpha * pattern).astype(np.float32)


def watermark_images(
    ds: Dataset,
    key: bytes,
    *,
    rate: float = 0.01,
    alpha: float = 0.1,
    target: int | None = None,
    n_queries: int = 100,
    margin: float = 0.2,
    contrast: float = 0.0,
    n_decoys: int = 16,
) -> tuple[Dataset, ImageWatermark]:
    """Mark a copy of an image data set and return it with its verification record.

    Parameters
    ----------
    ds
        Image data set, ``X`` of shape ``(n, c, h, w)`` in [0, 1].
    key
        The owner's secret key (:func:`~trainguard.provenance.watermark.keys.new_key`).
    rate
        Fraction of all samples that are marked (taken from non-target classes).
    alpha
        Blend weight of the pattern: the largest change of any pixel.
    target
        The label the marked samples get (default: derived from the key).
    n_queries
        Clean query images kept in the record for the test (DVBW uses 100); they
        are unmarked samples of other classes than the target.
    margin
        The test's margin ``tau`` on the target probability.
    contrast
        Fraction of samples that get one of ``n_decoys`` other keyed patterns and keep
        their label. Without it a network may learn "any faint texture => t", and
        another key with the same target would then also find the mark; with it, only
        this key's pattern triggers ``t`` (the benchmark measures both).
    n_decoys
        Number of decoy patterns used by ``contrast``.
    """
    if ds.kind != "image":
        raise DataError(f"{ds.name}: image watermarks need image data, got {ds.kind}")
    rate = check_real(
        rate, "rate", "watermark_images", low=0.0, high=1.0, low_open=True, high_open=True
    )
    alpha = check_real(alpha, "alpha", "watermark_images", low=0.0, high=1.0, low_open=True)
    check_real(contrast, "contrast", "watermark_images", low=0.0, high=1.0, high_open=True)
    check_int(n_decoys, "n_decoys", "watermark_images", low=1)
    check_int(n_queries, "n_queries", "watermark_images", low=2)
    tgt = (
        keyed_target(key, ds.n_classes)
        if target is None
        else check_int(target, "target", "watermark_images", low=0, high=ds.n_classes - 1)
    )
    others = np.flatnonzero(ds.y != tgt)
    k = max(1, round(rate * len(ds)))
    if k + n_queries > len(others):
        raise DataError(
            f"{ds.name}: {len(others)} samples outside the target class cannot hold "
            f"{k} marked samples and {n_queries} queries"
        )
    marked = np.sort(keyed_rng(key, "image/select").choice(others, size=k, replace=False))
    rest = np.setdiff1d(others, marked)
    queries = np.sort(keyed_rng(key, "image/queries").choice(rest, size=n_queries, replace=False))
    X, y = ds.X.copy(), ds.y.copy()
    X[marked] = apply_pattern(X[marked], keyed_pattern(key, ds.input_shape), alpha)
    y[marked] = tgt
    free = np.setdiff1d(np.arange(len(ds)), np.concatenate([marked, queries]))
    n_contrast = min(round(contrast * len(ds)), len(free))
    decoyed = np.sort(keyed_rng(key, "image/contrast").choice(free, size=n_contrast, replace=False))
    for j in range(min(n_decoys, n_contrast)):
        rows = decoyed[j::n_decoys]
        X[rows] = apply_pattern(
            X[rows], keyed_pattern(key, ds.input_shape, f"image/decoy/{j}"), alpha
        )
    record = ImageWatermark(
        key_id=key_id(key),
        target=tgt,
        alpha=alpha,
        rate=rate,
        shape=ds.input_shape,
        n_classes=ds.n_classes,
        marked=[int(i) for i in marked],
        queries=ds.X[queries].copy(),
        query_labels=ds.y[queries].copy(),
        margin=margin,
        contrast=contrast,
        decoyed=[int(i) for i in decoyed],
    )
    return replace(ds, name=f"{ds.name}-marked", X=X, y=y), record


def pairwise_margin_ttest(
    p_benign: np.ndarray, p_marked: np.ndarray, margin: float
) -> tuple[float, float]:
    """One-sided paired t-test of ``mean(p_marked - p_benign) > margin``: ``(t, p)``.

    The same test as ``scipy.stats.ttest_rel(p_benign + margin, p_marked,
    alternative="less")``, with the degenerate case of zero variance decided exactly.
    """
    from scipy.stats import ttest_rel

    d = p_marked - p_benign - margin
    if np.allclose(d, d[0], rtol=0.0, atol=1e-12):
        return (math.inf, 0.0) if d[0] > 0 else (-math.inf if d[0] < 0 else 0.0, 1.0)
    res = ttest_rel(p_benign + margin, p_marked, alternative="less")
    return -float(res.statistic), float(res.pvalue)


def verify_image_watermark(
    predict_proba: Predictor,
    record: ImageWatermark,
    key: bytes,
    *,
    significance: float = 0.01,
) -> OwnershipResult:
    """Test a suspect model (black box: class probabilities only) for the watermark.

    Parameters
    ----------
    predict_proba
        Maps images ``(n, *shape)`` to class probabilities ``(n, n_classes)``.
    record
        The record written when the data was marked.
    key
        The owner's secret key; it must be the key the record was made with.
    significance
        Level below which the p-value identifies the model.
    """
    if key_id(key) != record.key_id:
        raise IntegrityError(
            f"this key ({key_id(key)}) is not the one the watermark record was made with ({record.key_id})"
        )
    check_real(
        significance,
        "significance",
        "verify_image_watermark",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    pattern = keyed_pattern(key, record.shape)
    xb = np.ascontiguousarray(record.queries, dtype=np.float32)
    xw = apply_pattern(xb, pattern, record.alpha)
    probs_b = np.asarray(predict_proba(xb), dtype=np.float64)
    probs_w = np.asarray(predict_proba(xw), dtype=np.float64)
    if probs_b.shape != (len(xb), record.n_classes):
        raise DataError(
            f"the suspect model returned probabilities of shape {probs_b.shape}; "
            f"expected ({len(xb)}, {record.n_classes})"
        )
    pb, pw = probs_b[:, record.target], probs_w[:, record.target]
    t, p = pairwise_margin_ttest(pb, pw, record.margin)
    return OwnershipResult(
        method="dvbw-ttest",
        p_value=p,
        significance=significance,
        statistic=t,
        effect=float(np.mean(pw - pb)),
        effect_name="mean_delta_p_target",
        n_queries=len(xb),
        details={
            "margin": record.margin,
            "watermark_success_rate": float(np.mean(probs_w.argmax(1) == record.target)),
            "benign_target_rate": float(np.mean(probs_b.argmax(1) == record.target)),
        },
    )
