import numpy as np
import pytest
import torch

from trainguard.core.datasets import Dataset, load_dataset
from trainguard.core.errors import ConfigError, ModelError
from trainguard.core.text import Vocabulary
from trainguard.core.training import (
    dataset_tensors,
    evaluate,
    fit,
    load_trained,
    make_loader,
    save_trained,
    train_model,
)
from trainguard.core.zoo import BagOfEmbeddings, SmallCNN, build_model, load_model


def test_cnn_learns_digits_and_roundtrips(tmp_path):
    tr, te = load_dataset("digits").split(0.3, seed=0)
    tm = train_model(tr, epochs=6, lr=3e-3, seed=0, val=te)
    assert tm.name == "cnn" and tm.history.last("val_accuracy") > 0.85
    p = save_trained(tm, tmp_path / "m.pt")
    back = load_trained(p)
    x, _ = back.tensors(te)
    torch.testing.assert_close(back.model(x[:10]), tm.model(x[:10]))


def test_training_is_reproducible():
    tr = load_dataset("breast_cancer")
    a = train_model(tr, model_name="logreg", epochs=2, seed=5)
    b = train_model(tr, model_name="logreg", epochs=2, seed=5)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


def test_sample_weights_change_the_fit():
    ds = load_dataset("breast_cancer")
    x, y = dataset_tensors(ds)
    w = np.where(ds.y == 1, 0.01, 1.0)
    torch.manual_seed(0)
    m = build_model("logreg", n_features=30, n_classes=2)
    fit(m, make_loader(x, y, batch_size=64, shuffle=True, weights=w), epochs=20, lr=1e-2)
    pred = m(x).argmax(1)
    # class 1 was down-weighted, so the model under-predicts it relative to the truth
    assert (pred == 1).float().mean() < ds.y.mean()


def test_text_model_and_vocab():
    texts = ["good movie", "great film", "bad movie", "awful film"] * 10
    ds = Dataset(
        name="t",
        kind="text",
        X=np.zeros((40, 0), np.float32),
        y=np.array([1, 1, 0, 0] * 10),
        class_names=["neg", "pos"],
        texts=texts,
    )
    tm = train_model(ds, epochs=30, lr=1e-2, batch_size=8)
    assert isinstance(tm.model, BagOfEmbeddings) and tm.vocab is not None
    x, y = tm.tensors(ds)
    assert evaluate(tm.model, make_loader(x, y))["accuracy"] == 1.0
    v = Vocabulary.from_dict(tm.vocab.to_dict())
    np.testing.assert_array_equal(
        v.encode(["good unknownword"]), tm.vocab.encode(["good unknownword"])
    )


def test_model_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'resnet'"):
        build_model("resnet")
    with pytest.raises(ModelError):
        SmallCNN((1, 10, 10))
    bad = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ModelError, match="not a trainguard model"):
        load_model(bad)
    with pytest.raises(ModelError, match="no such model"):
        load_model(tmp_path / "missing.pt")
