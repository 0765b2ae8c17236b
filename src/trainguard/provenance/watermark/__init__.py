"""Data-set watermarks and black-box ownership tests.

Images: a keyed backdoor pattern and a pairwise t-test. Text: keyed canaries and an
exposure test.
"""

from trainguard.provenance.watermark.image import (
    ImageWatermark,
    apply_pattern,
    keyed_pattern,
    pairwise_margin_ttest,
    verify_image_watermark,
    watermark_images,
)
from trainguard.provenance.watermark.keys import key_id, load_key, new_key, save_key
from trainguard.provenance.watermark.model import model_predictor, prove_ownership
from trainguard.provenance.watermark.record import WatermarkRecord, load_record, save_record
from trainguard.provenance.watermark.text import (
    TextWatermark,
    canaries,
    verify_text_watermark,
    watermark_texts,
)
from trainguard.provenance.watermark.verdict import OwnershipResult

__all__ = [
    "ImageWatermark",
    "OwnershipResult",
    "TextWatermark",
    "WatermarkRecord",
    "apply_pattern",
    "canaries",
    "key_id",
    "keyed_pattern",
    "load_key",
    "load_record",
    "model_predictor",
    "new_key",
    "pairwise_margin_ttest",
    "prove_ownership",
    "save_key",
    "save_record",
    "verify_image_watermark",
    "verify_text_watermark",
    "watermark_images",
    "watermark_texts",
]
