import numpy as np

from trainguard.audit import find_duplicates, find_label_errors
from trainguard.core.datasets import Dataset, load_dataset


def test_exact_and_near_duplicates_are_found_and_conflicts_counted():
    ds = load_dataset("breast_cancer")
    assert find_duplicates(ds).exact_extra_rows == 0
    idx = np.r_[np.arange(len(ds)), [3, 3, 10]]
    dup = ds.subset(idx)
    dup.y = dup.y.copy()
    dup.y[-1] = 1 - dup.y[10]  # a copy of row 10 with the other label
    near = dup.X.copy()
    near[-2] += 1e-4  # row 3 again, perturbed: near, not exact
    dup.X = near
    rep = find_duplicates(dup)
    assert [sorted(g) for g in rep.exact_groups] == [[3, len(ds)], [10, len(ds) + 2]]
    assert rep.conflicting_labels == 1
    assert any({i, j} & {len(ds) + 1} for i, j, _ in rep.near_pairs)
    (f,) = rep.to_findings("data_audit", max_fraction=0.5)
    assert f.passed is False  # conflicting labels fail regardless of the fraction


def test_text_duplicates_ignore_case_and_spacing():
    texts = ["Hello  world", "hello world", "other"]
    ds = Dataset(
        name="t",
        kind="text",
        X=np.zeros((3, 0), np.float32),
        y=np.array([0, 0, 1]),
        class_names=["a", "b"],
        texts=texts,
    )
    assert find_duplicates(ds).exact_groups == [[0, 1]]


def test_flipped_labels_are_found():
    ds = load_dataset("digits")
    rng = np.random.default_rng(0)
    flip = rng.choice(len(ds), 60, replace=False)
    ds.y = ds.y.copy()
    ds.y[flip] = (ds.y[flip] + 1 + rng.integers(0, 9, 60)) % 10
    rep = find_label_errors(ds)
    found = set(rep.issues) & set(flip.tolist())
    assert len(found) >= 0.8 * len(flip)  # recall
    assert len(found) >= 0.5 * len(rep.issues)  # precision
    clean = find_label_errors(load_dataset("digits"))
    assert clean.fraction < rep.fraction / 2
