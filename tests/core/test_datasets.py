import gzip
import json

import numpy as np
import pandas as pd
import pytest

from trainguard.core.datasets import (
    DatasetSpec,
    load_dataset,
    load_mnist,
    make_synthetic_credit,
    read_idx,
)
from trainguard.core.errors import ConfigError, DataError, ParameterError


def test_digits_and_breast_cancer_builtin():
    d = load_dataset("digits")
    assert d.X.shape == (1797, 1, 8, 8) and d.X.dtype == np.float32
    assert d.X.min() >= 0.0 and d.X.max() <= 1.0 and d.n_classes == 10 and d.kind == "image"
    b = load_dataset("breast_cancer")
    assert b.X.shape == (569, 30) and b.n_classes == 2
    np.testing.assert_allclose(b.X.mean(0), 0, atol=1e-5)


def test_split_is_stratified_disjoint_and_seeded():
    d = load_dataset("digits")
    tr, te = d.split(0.25, seed=3)
    assert len(tr) + len(te) == len(d)
    tr2, _ = d.split(0.25, seed=3)
    np.testing.assert_array_equal(tr.y, tr2.y)
    assert abs(np.bincount(te.y).min() - np.bincount(te.y).max()) <= 3
    with pytest.raises(ParameterError):
        d.split(1.5)


def test_synthetic_credit_bias_and_institutions():
    fair = make_synthetic_credit(20_000, bias=0.0, seed=1)
    biased = make_synthetic_credit(20_000, bias=1.5, seed=1)

    def gap(ds):
        g = ds.sensitive["group"]
        return ds.y[g == "A"].mean() - ds.y[g == "B"].mean()

    assert gap(biased) > gap(fair) + 0.15
    inst = biased.meta["institution"]
    assert set(np.unique(inst)) == set(range(5))
    # non-IID: the institutions have different repayment rates
    rates = [biased.y[inst == i].mean() for i in range(5)]
    assert max(rates) - min(rates) > 0.03
    iid = make_synthetic_credit(20_000, non_iid=0.0, seed=1)
    sizes = np.bincount(iid.meta["institution"])
    assert sizes.max() / sizes.min() < 1.3


@pytest.fixture(params=["csv", "parquet"])
def table(tmp_path, request):
    df = pd.DataFrame(
        {
            "age": [25, 40, None, 33, 51, 62],
            "job": ["a", "b", "a", None, "c", "b"],
            "sex": ["F", "M", "F", "M", "F", "M"],
            "y": ["no", "yes", "no", "yes", "yes", "no"],
        }
    )
    p = tmp_path / f"t.{request.param}"
    df.to_csv(p, index=False) if request.param == "csv" else df.to_parquet(p)
    return p


def test_table_loader(table):
    ds = load_dataset(DatasetSpec(source=str(table), label="y", sensitive=["sex"]))
    assert ds.kind == "tabular" and len(ds) == 6 and ds.class_names == ["no", "yes"]
    assert list(ds.sensitive["sex"]) == ["F", "M", "F", "M", "F", "M"]
    assert "age" in ds.feature_names and "job=missing" in ds.feature_names
    assert not np.isnan(ds.X).any()


def test_table_errors(table, tmp_path):
    with pytest.raises(DataError, match="no column 'income'"):
        load_dataset({"source": str(table), "label": "income"})
    with pytest.raises(ConfigError, match="'label' is required"):
        load_dataset(str(table))
    with pytest.raises(ConfigError, match="field 'labl'"):
        load_dataset({"source": str(table), "labl": "y"})
    single = tmp_path / "one.csv"
    single.write_text("x,y\n1,a\n2,a\n")
    with pytest.raises(DataError, match="single class"):
        load_dataset({"source": str(single), "label": "y"})
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("no-such-thing")


def test_jsonl_text(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(
        "\n".join(
            json.dumps({"text": t, "label": lab}) for t, lab in [("hi there", 0), ("bad words", 1)]
        )
    )
    ds = load_dataset(str(p))
    assert ds.kind == "text" and ds.texts == ["hi there", "bad words"] and ds.X.shape == (2, 0)
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "a", "label": 0}\n{not json}\n')
    with pytest.raises(DataError, match=r"b.jsonl:2"):
        load_dataset(str(bad))


def test_npz(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(
        p,
        X=np.random.default_rng(0).integers(0, 255, (5, 4, 4), dtype=np.uint8),
        y=np.array([0, 1, 0, 1, 1]),
    )
    ds = load_dataset(str(p))
    assert ds.kind == "image" and ds.X.shape == (5, 1, 4, 4) and ds.X.max() <= 1.0
    obj = tmp_path / "o.npz"
    np.savez(obj, X=np.array([{"a": 1}] * 2, dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataError, match="unpickling"):
        load_dataset(str(obj))
    missing = tmp_path / "m.npz"
    np.savez(missing, features=np.zeros((2, 2)))
    with pytest.raises(DataError, match="'X' and 'y'"):
        load_dataset(str(missing))


def _idx(path, arr, gz=True):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_mnist_idx_roundtrip_and_errors(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (7, 28, 28))
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(7) % 10, gz=False)
    ds = load_mnist(tmp_path)
    assert ds.X.shape == (7, 1, 28, 28)
    np.testing.assert_allclose(ds.X[:, 0] * 255, imgs, atol=1e-3)
    (tmp_path / "trunc-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") * 3 + b"\0" * 10
    )
    with pytest.raises(DataError, match="declares 1000 values"):
        read_idx(tmp_path / "trunc-images-idx3-ubyte")
    (tmp_path / "junk").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "junk")
    with pytest.raises(DataError, match="no such file"):
        load_mnist(tmp_path / "nowhere")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="expected t10k-labels"):
        load_mnist(tmp_path)


def test_real_mnist(mnist_dir):
    ds = load_dataset(f"mnist:{mnist_dir}")
    assert ds.X.shape == (10000, 1, 28, 28)
    assert np.bincount(ds.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_adult(adult_dir):
    ds = load_dataset(f"adult:{adult_dir}")
    assert len(ds) == 48842 and ds.class_names == ["<=50K", ">50K"]
    assert set(ds.sensitive["sex"]) == {"Female", "Male"}
    assert (ds.meta["split"] == "train").sum() == 32561
    assert "fnlwgt" not in ds.feature_names
