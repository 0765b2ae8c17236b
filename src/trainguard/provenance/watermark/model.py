"""Run an ownership test against a trained zoo model, whatever the record's kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from trainguard.core.training import TrainedModel, predict_proba
from trainguard.provenance.watermark.image import ImageWatermark, verify_image_watermark
from trainguard.provenance.watermark.record import WatermarkRecord
from trainguard.provenance.watermark.text import verify_text_watermark
from trainguard.provenance.watermark.verdict import OwnershipResult


def model_predictor(tm: TrainedModel) -> Any:
    """A black-box ``predict_proba`` for a zoo model: images (arrays) or texts (strings)."""
    if tm.vocab is not None:
        vocab = tm.vocab

        def texts(xs: Sequence[str]) -> np.ndarray:
            return predict_proba(tm.model, torch.from_numpy(vocab.encode(list(xs))))

        return texts

    def arrays(x: np.ndarray) -> np.ndarray:
        return predict_proba(tm.model, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))

    return arrays


def prove_ownership(
    tm: TrainedModel, record: WatermarkRecord, key: bytes, *, significance: float = 0.01
) -> OwnershipResult:
    """Test a suspect zoo model for the watermark of ``record`` (image or text)."""
    predict = model_predictor(tm)
    if isinstance(record, ImageWatermark):
        return verify_image_watermark(predict, record, key, significance=significance)
    return verify_text_watermark(predict, record, key, significance=significance)
