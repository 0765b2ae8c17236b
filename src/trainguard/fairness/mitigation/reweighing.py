"""Reweighing (Kamiran & Calders 2012): sample weights that make label and group independent.

Reference: F. Kamiran and T. Calders, "Data preprocessing techniques for
classification without discrimination", Knowledge and Information Systems 33(1),
2012, section 4.2 (the weight of a row in group ``g`` with label ``y`` is
``P(g) P(y) / P(g, y)``, its expected over observed frequency).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainguard.fairness._inputs import binary_labels, check_weights, encode_groups


def reweighing_weights(
    y: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    pos_label: object = None,
) -> np.ndarray:
    """Kamiran-Calders weights ``w(g, y) = W_g W_y / (W W_{g,y})`` for every row.

    ``W`` are (weighted) row counts: all rows, group ``g``, label ``y`` and both.
    Under the returned weights (multiplied by ``sample_weight`` when given) each
    group has the overall base rate, so the label is independent of the group, and
    the total weight of every group and of every label is unchanged. The weights
    feed any trainer of the zoo (``core.training.make_loader(weights=...)``,
    ``train_model(sample_weight=...)``).

    Parameters
    ----------
    y
        Binary labels.
    sensitive_features
        One or more sensitive columns (several give intersectional groups).
    sample_weight
        Existing weights to start from (the result includes them).
    pos_label
        The positive label (default 1).
    """
    t = binary_labels(y, "y", pos_label)
    groups = encode_groups(sensitive_features, len(t))
    w0 = check_weights(sample_weight, len(t))
    base = np.ones(len(t)) if w0 is None else w0
    cell = groups.codes * 2 + t.astype(np.int64)
    w_cell = np.bincount(cell, weights=base, minlength=2 * groups.n_groups).reshape(-1, 2)
    w_group = w_cell.sum(axis=1, keepdims=True)
    w_label = w_cell.sum(axis=0, keepdims=True)
    total = w_cell.sum()
    factor = np.zeros_like(w_cell)
    np.divide(w_group * w_label, total * w_cell, out=factor, where=w_cell > 0)
    return base * factor.ravel()[cell]
