"""Data sets: built-in (offline) ones, loaders for user files, and ``load_dataset``."""

from trainguard.core.datasets.base import Dataset
from trainguard.core.datasets.builtin import (
    load_breast_cancer_dataset,
    load_digits_dataset,
    make_synthetic_credit,
)
from trainguard.core.datasets.files import (
    dataset_from_frame,
    load_adult,
    load_jsonl,
    load_mnist,
    load_npz,
    load_table,
    read_idx,
)
from trainguard.core.datasets.spec import DatasetSpec, load_dataset

__all__ = [
    "Dataset",
    "DatasetSpec",
    "dataset_from_frame",
    "load_adult",
    "load_breast_cancer_dataset",
    "load_dataset",
    "load_digits_dataset",
    "load_jsonl",
    "load_mnist",
    "load_npz",
    "load_table",
    "make_synthetic_credit",
    "read_idx",
]
