"""Jailbreak and injection detection rate at a false-positive rate of at most 1%.

Positives: the 666 in-the-wild jailbreak prompts (Shen et al., CCS 2024), plus Giskard
and Tensor Trust attacks reported separately. Negatives: 980 benign prompts (AlpacaEval
+ Self-Instruct seed tasks); XSTest's 250 safe prompts with trigger words are reported
as a second false-positive rate. Each detector's threshold is the smallest one whose
FPR on the benign prompts is <= 1%; the detection rate is then measured at it. The
trained classifier is cross-validated (2 folds over jailbreaks and benign prompts; in
each, fitted on 80% of the training fold, threshold set on the benign prompts of the
other 20%, measured on the test fold). Also shown: the default policy's
fixed threshold (flag at 0.4).

Run: flock /tmp/trainguard-heavy.lock .venv/bin/python -m benchmarks.guard_injection
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import print_table
from benchmarks.guard_data import benign_prompts, injection_sets, jailbreaks, xstest_safe
from trainguard.guard.embeddings import AttackSimilarity
from trainguard.guard.injection import InjectionHeuristics, noisy_or
from trainguard.guard.textclf import TextClassifier


def _threshold(benign: np.ndarray, fpr: float = 0.01) -> float:
    """Smallest threshold t with mean(benign >= t) <= fpr."""
    for t in np.unique(np.concatenate([benign, [np.inf]])):
        if (benign >= t).mean() <= fpr:
            return float(t)
    return float("inf")


def main() -> None:
    jb, ben, xs = jailbreaks(), benign_prompts(), xstest_safe()
    others = injection_sets()
    heur = InjectionHeuristics()
    sim = AttackSimilarity()

    def h(texts: list[str]) -> np.ndarray:
        return np.array([heur.scan(t).score for t in texts])

    scores: dict[str, dict[str, np.ndarray]] = {"heuristics": {}, "embeddings": {}, "both": {}}
    for name, texts in {"jb": jb, "ben": ben, "xs": xs, **others}.items():
        hs, es = h(texts), sim.scores(texts)
        scores["heuristics"][name] = hs
        scores["embeddings"][name] = es
        scores["both"][name] = np.array(
            [noisy_or([a, 0.6 * (b >= 0.6)]) for a, b in zip(hs, es, strict=True)]
        )

    rows = []
    for det, s in scores.items():
        t = _threshold(s["ben"])
        row = [det, t, (s["jb"] >= t).mean(), (s["ben"] >= t).mean(), (s["xs"] >= t).mean()]
        rows.append(row + [(s[k] >= t).mean() for k in others])
    fixed = scores["heuristics"]
    rows.append(["heuristics, policy flag >= 0.4", 0.4, (fixed["jb"] >= 0.4).mean(),
                 (fixed["ben"] >= 0.4).mean(), (fixed["xs"] >= 0.4).mean(),
                 *[(fixed[k] >= 0.4).mean() for k in others]])  # fmt: skip

    rng = np.random.default_rng(0)
    texts = jb + ben
    y = np.array([1] * len(jb) + [0] * len(ben))
    fold = rng.permutation(len(texts)) % 2
    tpr, fpr = [], []
    for k in (0, 1):
        # fit on 80% of the training fold, set the threshold on its other 20%'s benign prompts
        calib = (fold != k) & (rng.random(len(texts)) < 0.2)
        tr, te = (fold != k) & ~calib, fold == k
        model = TextClassifier(seed=0).fit([texts[i] for i in np.flatnonzero(tr)], y[tr])
        p_cal = model.predict_proba([texts[i] for i in np.flatnonzero(calib & (y == 0))])
        t = _threshold(p_cal)
        p_te = model.predict_proba([texts[i] for i in np.flatnonzero(te)])
        tpr.append((p_te[y[te] == 1] >= t).mean())
        fpr.append((p_te[y[te] == 0] >= t).mean())
    rows.append(["trained classifier (2-fold CV, mean of folds)", float("nan"), float(np.mean(tpr)),
                 float(np.mean(fpr)), float("nan"), *[float("nan")] * len(others)])  # fmt: skip
    print_table(
        f"Jailbreak detection at FPR <= 1% on {len(ben)} benign prompts ({len(jb)} in-the-wild jailbreaks)",
        ["detector", "threshold", "jailbreak TPR", "benign FPR", "XSTest-safe FPR", *others],
        rows,
    )
    for k in (0, 1):
        print(
            f"trained classifier, test fold {k}: jailbreak TPR {tpr[k]:.4f}, benign FPR {fpr[k]:.4f}"
        )


if __name__ == "__main__":
    main()
