from __future__ import annotations

import csv
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import shared_path

from trainguard.core.errors import ConfigError, DataError, ModelError, NotFittedError
from trainguard.guard.textclf import TextClassifier
from trainguard.guard.toxicity import load_classifier

TOXIC = [
    "you are a worthless idiot",
    "shut up you stupid moron",
    "i hate you, loser",
    "go away you dumb jerk",
]
BENIGN = [
    "have a lovely day",
    "the meeting is at noon",
    "thanks for the help",
    "the weather is nice",
]


def _davidson(n: int) -> tuple[list[str], list[int]]:
    path = shared_path("hate_speech_davidson", "labeled_data.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:n]
    return [r["tweet"] for r in rows], [int(r["class"] != "2") for r in rows]


def test_textclf_learns_and_round_trips_without_pickle(tmp_path: Path) -> None:
    texts, labels = TOXIC * 5 + BENIGN * 5, [1] * 20 + [0] * 20
    model = TextClassifier(n_features=2**12).fit(texts, labels)
    p = model.predict_proba(["you stupid idiot", "lovely weather today"])
    assert p[0] > 0.5 > p[1]
    model.save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path / "m")) == ["textclf.json", "textclf.npz"]
    with np.load(tmp_path / "m" / "textclf.npz", allow_pickle=False) as z:
        assert set(z.files) == {"index", "coef", "idf"}
    again = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(texts), model.predict_proba(texts), atol=1e-12)


def test_textclf_on_real_tweets_beats_chance(tmp_path: Path) -> None:
    texts, labels = _davidson(1500)
    model = TextClassifier(n_features=2**14).fit(texts[:1000], labels[:1000])
    pred = model.predict_proba(texts[1000:]) > 0.5
    y = np.array(labels[1000:], dtype=bool)
    assert (pred == y).mean() > 0.85


def test_textclf_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        TextClassifier().predict_proba(["x"])
    with pytest.raises(DataError, match="binary"):
        TextClassifier().fit(["a", "b"], [1, 1])
    with pytest.raises(ModelError, match="not a trainguard text classifier"):
        TextClassifier.load(tmp_path)
    with pytest.raises(ConfigError, match="classifier must be"):
        load_classifier("bert")


def test_profanity_check_is_scanned_then_matches_the_package() -> None:
    ours = load_classifier("profanity-check")
    import profanity_check  # the peer: unpickles on import

    texts = [*TOXIC, *BENIGN, "", "the and of", "Ünïcode wörds, SHOUTING!!"]
    np.testing.assert_allclose(
        ours.predict_proba(texts), profanity_check.predict_prob(texts), atol=1e-12
    )
    assert ours.predict_proba(TOXIC).min() > ours.predict_proba(BENIGN).max()


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_a_malicious_pickle_is_refused_before_loading(tmp_path: Path) -> None:
    from trainguard.core.errors import UnsafeArtifact
    from trainguard.guard.toxicity import scan_before_load

    bad = tmp_path / "model.joblib"
    bad.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(UnsafeArtifact, match="supply-chain scan"):
        scan_before_load(bad)


def _tiny_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *["you", "are", "a", "nice", "idiot", "day", "have", "the"],
    ]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    cfg = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64, num_labels=2,
                     id2label={0: "neutral", 1: "toxic"}, label2id={"neutral": 0, "toxic": 1})  # fmt: skip
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_local_transformers_model_is_batched_and_consistent(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from trainguard.guard.toxicity import TransformersModel

    folder = _tiny_bert(tmp_path)
    model = TransformersModel(folder, batch_size=2)
    assert model.positive == 1  # the label named "toxic"
    texts = ["you are a nice day", "idiot", "have the day", "you idiot"]
    batched = model.predict_proba(texts)
    single = np.concatenate([model.predict_proba([t]) for t in texts])
    assert batched.shape == (4,) and ((batched > 0) & (batched < 1)).all()
    np.testing.assert_allclose(batched, single, atol=1e-5)
    with pytest.raises(ModelError, match=r"no config\.json"):
        TransformersModel(tmp_path / "absent")
