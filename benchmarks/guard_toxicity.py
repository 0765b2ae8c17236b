"""Toxicity quality on the Davidson et al. (2017) tweets: keyword-only, alt-profanity-check,
the combined guard, and a classifier trainguard trains on half of the data.

Positives are tweets labelled hate or offensive (20,620), negatives "neither" (4,163).
The combined guard is the default policy's toxicity check (keywords + the scanned
alt-profanity-check model, with its downgrade rule); a text counts as flagged when the
decision is not ``allow``. The trained classifier is fitted on a random half (seed 0)
and scored on the other half, where every row is also reported.

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_toxicity
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import print_table
from benchmarks.guard_data import davidson
from trainguard.guard import Decision, Guard, Policy
from trainguard.guard.textclf import TextClassifier
from trainguard.guard.toxicity import load_classifier


def _prf(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & y).sum())
    p = tp / max(pred.sum(), 1)
    r = tp / max(y.sum(), 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def main() -> None:
    texts, labels = davidson()
    y = np.array(labels, dtype=bool)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    train, test = order[: len(order) // 2], order[len(order) // 2 :]
    test_texts = [texts[i] for i in test]
    yt = y[test]

    guard = Guard(Policy(input=["toxicity"], output=["toxicity"]))
    assert guard.keywords is not None
    kw = np.array([bool(guard.keywords.find(t)) for t in test_texts])
    apc = load_classifier("profanity-check").predict_proba(test_texts) >= 0.5
    combined = np.array([r.decision is not Decision.ALLOW for r in guard.check_many(test_texts)])
    model = TextClassifier(seed=0).fit([texts[i] for i in train], y[train].astype(int))
    trained = model.predict_proba(test_texts) >= 0.5

    rows = []
    for name, pred in [
        ("keyword stage only (trainguard lexicon)", kw),
        ("alt-profanity-check 1.9 (peer)", apc),
        ("trainguard combined guard (keywords + alt-profanity-check)", combined),
        ("trainguard trained classifier (fit on the other half)", trained),
    ]:
        p, r, f = _prf(yt, pred)
        rows.append([name, p, r, f])
    base_f1 = rows[1][3]
    print_table(
        f"Toxicity on Davidson et al. 2017 (test half: {len(test)} tweets, {int(yt.sum())} positive)",
        ["detector", "precision", "recall", "F1", "F1 / peer"],
        [[*r, r[3] / base_f1] for r in rows],
    )


if __name__ == "__main__":
    main()
