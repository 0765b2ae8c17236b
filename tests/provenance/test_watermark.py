"""Watermarked small models are identified and clean ones are not (digits, synthetic text)."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ttest_rel

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.errors import DataError, IntegrityError, ParameterError
from trainguard.core.training import TrainedModel, train_model
from trainguard.provenance.watermark import (
    ImageWatermark,
    TextWatermark,
    canaries,
    keyed_pattern,
    load_key,
    load_record,
    new_key,
    pairwise_margin_ttest,
    prove_ownership,
    save_key,
    save_record,
    watermark_images,
    watermark_texts,
)

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def _mlp(ds: Dataset, seed: int = 0) -> TrainedModel:
    return train_model(ds, model_name="mlp", epochs=30, lr=3e-3, seed=seed)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits").split(0.25, seed=0)[0]


@pytest.fixture(scope="module")
def image_case(digits: Dataset) -> tuple[ImageWatermark, TrainedModel, TrainedModel]:
    marked, record = watermark_images(digits, KEY, rate=0.05, alpha=0.2)
    return record, _mlp(marked), _mlp(digits)


def test_marking_changes_only_the_keyed_samples(digits: Dataset) -> None:
    marked, rec = watermark_images(digits, KEY, rate=0.05, alpha=0.2)
    diff = np.flatnonzero(np.any(marked.X != digits.X, axis=(1, 2, 3)) | (marked.y != digits.y))
    assert diff.tolist() == rec.marked
    assert len(rec.marked) == round(0.05 * len(digits))
    assert np.all(marked.y[rec.marked] == rec.target)
    assert np.all(digits.y[rec.marked] != rec.target)
    assert np.abs(marked.X - digits.X).max() <= 0.2 + 1e-6  # every pixel moves by at most alpha
    # the same key gives the same marks; another key other marks and another pattern
    again, rec2 = watermark_images(digits, KEY, rate=0.05, alpha=0.2)
    assert rec2.marked == rec.marked and np.array_equal(again.X, marked.X)
    assert watermark_images(digits, OTHER, rate=0.05, alpha=0.2)[1].marked != rec.marked
    assert not np.array_equal(keyed_pattern(KEY, (1, 8, 8)), keyed_pattern(OTHER, (1, 8, 8)))
    # the query images are clean samples of other classes than the target
    assert np.all(rec.query_labels != rec.target) and len(rec.queries) == 100


def test_watermarked_model_is_identified_and_clean_one_is_not(image_case) -> None:  # type: ignore[no-untyped-def]
    record, marked_model, clean_model = image_case
    hit = prove_ownership(marked_model, record, KEY)
    assert hit.identified, hit
    assert hit.p_value < 1e-6 and hit.effect > 0.5
    miss = prove_ownership(clean_model, record, KEY)
    assert not miss.identified
    assert miss.p_value > 0.5 and abs(miss.effect) < 0.1
    assert hit.to_findings("watermark")[0].metrics["p_value"] == hit.p_value


def test_wrong_key_fails(image_case, digits: Dataset) -> None:  # type: ignore[no-untyped-def]
    record, marked_model, _ = image_case
    with pytest.raises(IntegrityError, match="not the one the watermark record was made with"):
        prove_ownership(marked_model, record, OTHER)
    # another owner's watermark (its own key and record) is not found in this model
    _, other_record = watermark_images(digits, OTHER, rate=0.05, alpha=0.2)
    assert not prove_ownership(marked_model, other_record, OTHER).identified


def test_contrast_makes_the_mark_specific_to_the_key(image_case, digits: Dataset) -> None:  # type: ignore[no-untyped-def]
    record, plain_model, _ = image_case
    # another owner's key that happens to pick the same target class
    _, same_target = watermark_images(digits, OTHER, rate=0.05, alpha=0.2, target=record.target)
    plain = prove_ownership(plain_model, same_target, OTHER)
    marked, rec = watermark_images(digits, KEY, rate=0.05, alpha=0.2, contrast=0.1)
    assert len(rec.decoyed) == round(0.1 * len(digits))
    assert set(rec.decoyed).isdisjoint(rec.marked)
    assert np.array_equal(
        marked.y, np.where(np.isin(np.arange(len(digits)), rec.marked), rec.target, digits.y)
    )
    specific = _mlp(marked)
    assert prove_ownership(specific, rec, KEY).identified
    other = prove_ownership(specific, same_target, OTHER)
    # without decoys the network reacts to any such texture; with them, only to the key's
    assert plain.effect > 0.15
    assert other.effect < 0.5 * plain.effect and not other.identified


def test_margin_ttest_equals_scipy() -> None:
    rng = np.random.default_rng(0)
    pb = rng.uniform(0, 0.3, 100)
    pw = np.clip(pb + rng.normal(0.35, 0.2, 100), 0, 1)
    t, p = pairwise_margin_ttest(pb, pw, 0.2)
    ref = ttest_rel(pb + 0.2, pw, alternative="less")
    assert p == pytest.approx(ref.pvalue, rel=1e-12)
    assert t == pytest.approx(-ref.statistic, rel=1e-12)
    # zero variance is decided exactly instead of returning nan
    assert pairwise_margin_ttest(np.zeros(5), np.ones(5), 0.2)[1] == 0.0
    assert pairwise_margin_ttest(np.zeros(5), np.zeros(5), 0.2)[1] == 1.0


def test_record_and_key_files_round_trip(image_case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, marked_model, _ = image_case
    path = save_record(record, tmp_path / "wm.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_record(path)
    assert isinstance(loaded, ImageWatermark)
    assert np.array_equal(loaded.queries, record.queries) and loaded.shape == record.shape
    assert (
        prove_ownership(marked_model, loaded, KEY).p_value
        == prove_ownership(marked_model, record, KEY).p_value
    )
    key = new_key()
    assert load_key(save_key(key, tmp_path / "wm.key")) == key
    with pytest.raises(DataError, match="refusing to overwrite"):
        save_key(key, tmp_path / "wm.key")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="not a trainguard watermark record"):
        load_record(tmp_path / "bad.json")


def test_bad_parameters(digits: Dataset) -> None:
    with pytest.raises(ParameterError, match="'rate' parameter of watermark_images"):
        watermark_images(digits, KEY, rate=0.0)
    with pytest.raises(ParameterError, match="'alpha' parameter"):
        watermark_images(digits, KEY, alpha=1.5)
    with pytest.raises(DataError, match="need image data"):
        watermark_images(load_dataset("breast_cancer"), KEY)


WORDS = {
    0: ["good", "great", "fine", "happy", "lovely", "nice", "superb", "calm", "bright", "warm"],
    1: ["bad", "awful", "poor", "sad", "ugly", "nasty", "grim", "cold", "dull", "harsh"],
}


def _texts(n: int = 400, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    filler = ["the", "a", "this", "that", "movie", "day", "food", "room"]
    texts = [
        " ".join(rng.choice(WORDS[int(c)], 3).tolist() + rng.choice(filler, 3).tolist()) for c in y
    ]
    return Dataset(
        name="reviews",
        kind="text",
        X=np.zeros((n, 0), np.float32),
        y=y.astype(np.int64),
        class_names=["pos", "neg"],
        texts=texts,
    )


def test_canary_watermark_identifies_a_text_model() -> None:
    clean = _texts()
    marked, record = watermark_texts(clean, KEY, n_canaries=8, repeats=4)
    assert len(marked) == len(clean) + 32
    assert marked.texts is not None and set(canaries(KEY, record)) <= set(marked.texts)
    assert isinstance(record, TextWatermark) and record.space_bits > 100
    hit = prove_ownership(train_model(marked, epochs=15, lr=5e-3, seed=0), record, KEY)
    assert hit.identified and hit.details["canaries_ranked_first"] >= 4
    miss = prove_ownership(train_model(clean, epochs=15, lr=5e-3, seed=0), record, KEY)
    assert not miss.identified and miss.p_value > 0.5
    with pytest.raises(IntegrityError):
        prove_ownership(train_model(clean, epochs=1, seed=0), record, OTHER)
