"""Data sets that need no download: scikit-learn's bundled files and a generator."""

from __future__ import annotations

import numpy as np

from trainguard.core.datasets.base import Dataset


def load_digits_dataset() -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits as ``(n, 1, 8, 8)`` images in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    return Dataset(
        name="digits",
        kind="image",
        X=X,
        y=d.target.astype(np.int64),
        class_names=[str(c) for c in d.target_names],
        feature_names=[],
        label_name="digit",
    )


def load_breast_cancer_dataset() -> Dataset:
    """scikit-learn's Wisconsin breast-cancer table (569 rows, 30 features), standardised."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    X = d.data.astype(np.float64)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return Dataset(
        name="breast_cancer",
        kind="tabular",
        X=X,
        y=d.target.astype(np.int64),
        class_names=[str(c) for c in d.target_names],
        feature_names=[str(f) for f in d.feature_names],
        label_name="diagnosis",
    )


CREDIT_FEATURES = [
    "income",
    "debt_ratio",
    "age",
    "credit_history_years",
    "open_accounts",
    "late_payments",
    "employment_years",
    "loan_amount",
]


def make_synthetic_credit(
    n_samples: int = 20_000,
    *,
    n_institutions: int = 5,
    bias: float = 1.0,
    non_iid: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Generate credit-scoring rows with a sensitive attribute and an institution id.

    The label (1 = repaid) follows a logistic model of eight financial features.
    Group ``B`` of the sensitive attribute ``group`` has its log-odds shifted down by
    ``bias`` (0 gives a fair data set) and slightly lower incomes, so a model trained
    on the data learns the disparity. Rows are spread over ``n_institutions``
    institutions; with ``non_iid > 0`` each institution has its own size, customer mix
    (income level, group share) and default rate, as banks in different regions do.

    Parameters
    ----------
    n_samples
        Number of rows.
    n_institutions
        Number of institutions (the ``institution`` column of ``meta``).
    bias
        Log-odds penalty of group ``B`` in the labelling model.
    non_iid
        Strength of the differences between institutions (0 = IID).
    seed
        Seed of the generator.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(n_institutions, 4.0 / max(non_iid, 1e-3)))
    inst = rng.choice(n_institutions, size=n_samples, p=sizes)
    inst_income = rng.normal(0.0, 0.5 * non_iid, n_institutions)[inst]
    inst_groupB = np.clip(0.3 + rng.normal(0.0, 0.15 * non_iid, n_institutions), 0.05, 0.95)[inst]
    inst_risk = rng.normal(0.0, 0.4 * non_iid, n_institutions)[inst]
    group_b = rng.random(n_samples) < inst_groupB
    income = np.exp(
        10.6 + 0.45 * rng.standard_normal(n_samples) + 0.3 * inst_income - 0.15 * group_b
    )
    age = np.clip(rng.normal(42, 12, n_samples), 18, 90)
    history = np.clip((age - 18) * rng.uniform(0.2, 1.0, n_samples), 0, None)
    accounts = rng.poisson(4, n_samples)
    late = rng.poisson(np.exp(-0.8 + 0.5 * inst_risk), n_samples)
    employment = np.clip((age - 18) * rng.uniform(0.0, 0.8, n_samples), 0, None)
    loan = np.exp(9.5 + 0.6 * rng.standard_normal(n_samples))
    debt_ratio = np.clip(rng.beta(2, 5, n_samples) + 0.3 * loan / income, 0, 3)
    z_income = (np.log(income) - 10.6) / 0.45
    logit = (
        0.8
        + 0.9 * z_income
        - 2.2 * (debt_ratio - 0.45)
        + 0.04 * (history - 10)
        - 0.55 * late
        + 0.03 * (employment - 8)
        + 0.05 * (accounts - 4)
        - 0.3 * inst_risk
        - bias * group_b
    )
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    raw = np.column_stack([income, debt_ratio, age, history, accounts, late, employment, loan])
    X = ((raw - raw.mean(0)) / raw.std(0)).astype(np.float32)
    return Dataset(
        name="synthetic-credit",
        kind="tabular",
        X=X,
        y=y,
        class_names=["default", "repaid"],
        feature_names=list(CREDIT_FEATURES),
        label_name="repaid",
        sensitive={"group": np.where(group_b, "B", "A")},
        meta={"institution": inst.astype(np.int64)},
    )
