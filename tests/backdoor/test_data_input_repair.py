import numpy as np
import pytest
import torch

from trainguard.backdoor import (
    ActivationClustering,
    SpectralSignatures,
    Strip,
    badnets_trigger,
    fine_prune,
    poison_dataset,
    unlearn,
)
from trainguard.backdoor._nn import penultimate
from trainguard.core.errors import DataError, NotFittedError, ParameterError


@pytest.fixture(scope="module")
def train_acts():
    """A small MNIST CNN trained on 4,000 rows, 4 % of them 7s with a patch relabelled 3."""
    from tests.conftest import shared_path

    from trainguard.core.datasets import load_mnist
    from trainguard.core.training import fit, make_loader, seed_everything
    from trainguard.core.zoo import SmallCNN

    ds = load_mnist(shared_path("mnist")).head(4000, seed=0)
    trig = badnets_trigger((1, 28, 28), size=4, seed=3)
    pd = poison_dataset(ds, trig, rate=0.04, target=3, source=7)
    seed_everything(0)
    model = SmallCNN(width=8)
    x = torch.from_numpy(pd.dataset.X)
    loader = make_loader(x, torch.from_numpy(pd.dataset.y), batch_size=64, shuffle=True)
    fit(model, loader, epochs=5, lr=2e-3)
    return penultimate(model, x), pd


def _precision_recall(flagged, truth):
    hit = (flagged & truth).sum()
    return hit / max(flagged.sum(), 1), hit / truth.sum()


def test_activation_clustering_flags_the_poisoned_rows(train_acts):
    acts, pd = train_acts
    ac = ActivationClustering(reduce="pca", max_cluster_fraction=0.45, seed=0)
    scan = ac.fit(acts, pd.dataset.y).scan()
    assert 3 in scan.suspicious_classes
    in_target = pd.dataset.y == 3
    precision, recall = _precision_recall(scan.flagged & in_target, pd.poisoned)
    assert recall > 0.9 and precision > 0.6
    assert np.array_equal(ac.predict(acts, pd.dataset.y), ac.flagged_)
    (f,) = scan.to_findings("data")
    assert f.passed is False and f.metrics["flagged_rows"] == scan.flagged.sum()


def test_spectral_signatures_rank_poisoned_rows_first(train_acts):
    from sklearn.metrics import roc_auc_score

    acts, pd = train_acts
    in_target = pd.dataset.y == 3
    share = pd.poisoned.sum() / in_target.sum()
    ss = SpectralSignatures(expected_fraction=share).fit(acts, pd.dataset.y)
    assert ss.flagged_[in_target].mean() == pytest.approx(1.5 * share, abs=0.01)
    _, recall = _precision_recall(ss.flagged_ & in_target, pd.poisoned)
    assert recall > 1.5 * share  # better than removing rows at random
    assert roc_auc_score(pd.poisoned[in_target], ss.scores_[in_target]) > 0.6


def test_spectral_scores_equal_art_on_centred_activations(train_acts):
    art = pytest.importorskip("art.defences.detector.poison.spectral_signature_defense")
    acts, _ = train_acts
    a = acts[:300] - acts[:300].mean(0)
    theirs = art.SpectralSignatureDefense.spectral_signature_scores(a)[:, 0] ** 2
    _, _, vt = np.linalg.svd(a, full_matrices=False)
    ours = SpectralSignatures.outlier_scores(a, a.mean(0), vt[0])
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_data_detectors_reject_bad_input(train_acts):
    acts, pd = train_acts
    with pytest.raises(NotFittedError, match="not fitted"):
        SpectralSignatures().predict(acts, pd.dataset.y)
    with pytest.raises(DataError, match="one label per activation row"):
        ActivationClustering().fit(acts, pd.dataset.y[:-1])
    with pytest.raises(ParameterError, match="'max_cluster_fraction' parameter"):
        ActivationClustering(max_cluster_fraction=0.8)
    with pytest.raises(DataError, match="NaN"):
        SpectralSignatures().fit(np.full((4, 2), np.nan), np.zeros(4, int))


def test_strip_separates_triggered_from_clean_inputs(digits_models):
    from sklearn.metrics import roc_auc_score

    x_clean = digits_models.x(digits_models.test)
    pool, held = x_clean[:200], x_clean[200:]
    strip = Strip(digits_models.trojan_model, n_perturbations=50, frr=0.05, seed=0).fit(pool)
    x_trig, _ = digits_models.triggered()
    h_clean, h_trig = strip.entropy(held), strip.entropy(x_trig)
    auc = roc_auc_score(
        np.r_[np.zeros(len(h_clean)), np.ones(len(h_trig))], -np.r_[h_clean, h_trig]
    )
    assert auc > 0.95
    assert strip.predict(x_trig).mean() > 0.8
    assert strip.predict(held).mean() < 0.15
    (f,) = strip.to_findings("serve", x_trig)
    assert f.passed is False


def test_strip_umbrella_boundary_keeps_false_rejections_at_the_rate_asked(digits_models):
    x_clean = digits_models.x(digits_models.test)
    pool, held = x_clean[:200], x_clean[200:]
    kw = {"n_perturbations": 50, "frr": 0.05, "seed": 0}
    normal = Strip(digits_models.trojan_model, **kw).fit(pool)
    umbrella = Strip(digits_models.trojan_model, boundary="umbrella", **kw).fit(pool)
    # an order statistic of the clean entropies: fewer than 5 % of them fall below it
    below = (umbrella.clean_entropy_ < umbrella.threshold_).sum()
    assert 0 < below <= 0.05 * len(pool)
    assert np.isclose(umbrella.threshold_, np.sort(umbrella.clean_entropy_)[below], atol=1e-9)
    assert umbrella.predict(held).mean() <= 0.05
    assert umbrella.predict(digits_models.triggered()[0]).mean() > 0.8
    assert umbrella.threshold_ != normal.threshold_
    with pytest.raises(DataError, match="at least 59 held-out"):
        Strip(digits_models.trojan_model, boundary="umbrella", **kw).fit(pool[:40])
    with pytest.raises(ParameterError, match="'boundary'"):
        Strip(digits_models.trojan_model, boundary="median")


def test_strip_needs_fit(digits_models):
    with pytest.raises(NotFittedError):
        Strip(digits_models.clean_model).predict(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ParameterError, match="'frr' parameter of Strip"):
        Strip(digits_models.clean_model, frr=0.0)


def _split(digits_models):
    """The defender's clean rows (the clean training set) and the held-out test rows."""
    train, test = digits_models.train, digits_models.test
    return (digits_models.x(train), digits_models.y(train)), (
        digits_models.x(test),
        digits_models.y(test),
    )


def test_unlearning_with_the_reversed_trigger_removes_the_backdoor(digits_models, nc_results):
    (xd, yd), test = _split(digits_models)
    nc = nc_results["trojan"]
    assert nc.target == 3
    res = unlearn(
        digits_models.trojan_model,
        xd,
        yd,
        nc.triggers[nc.target],
        epochs=3,
        seed=0,
        test=test,
        triggered=digits_models.triggered(),
    )
    assert res.before.attack_success > 0.9
    assert res.after.attack_success < 0.5  # the reversed trigger covers part of the patch
    assert res.after.clean_accuracy > res.before.clean_accuracy - 0.02
    (f,) = res.to_findings("repair", max_attack_success=0.5, max_accuracy_drop=0.02)
    assert f.passed is True
    (g,) = res.to_findings("repair")  # the default gate (5 %) is not met here
    assert g.passed is False


def test_fine_pruning_prunes_dormant_channels_and_keeps_them_pruned(digits_models):
    from trainguard.backdoor._nn import last_conv, layer_activations

    (xd, yd), test = _split(digits_models)
    model = digits_models.trojan_model
    res = fine_prune(
        model, xd, yd, epochs=3, seed=0, test=test, triggered=digits_models.triggered()
    )
    conv = last_conv(model)
    dormant = layer_activations(model, conv, xd).relu().mean((0, 2, 3)).argsort()
    assert res.pruned and res.pruned == dormant[: len(res.pruned)].tolist()
    pruned_conv = last_conv(res.model)
    assert torch.all(pruned_conv.weight[res.pruned] == 0)
    assert torch.all(pruned_conv.bias[res.pruned] == 0)
    assert not torch.all(conv.weight[res.pruned] == 0)  # the input model is untouched
    assert res.after.clean_accuracy > res.before.clean_accuracy - 0.04
    assert res.after.attack_success is not None and res.before.attack_success is not None


def test_poisoning_check_for_the_data_audit(digits_models):
    from trainguard.backdoor.stages import poisoning_check
    from trainguard.core.datasets import Dataset, load_breast_cancer_dataset

    pd = digits_models.poisoned
    check = poisoning_check(
        pd.dataset, model=digits_models.trojan_model, expected_fraction=0.5, poisoned=pd.poisoned
    )
    found = check.findings
    assert [f.check_id for f in found] == [
        "poison-activation-clustering",
        "poison-spectral-signatures",
    ]
    assert all(f.stage == "data-audit" and len(f.table) == 10 for f in found)
    assert all(0.0 <= f.metrics["precision"] <= 1.0 for f in found)
    assert set(check.flagged) == {"activation-clustering", "spectral-signatures"}
    both = check.flagged_by_all(["activation-clustering", "spectral-signatures"])
    assert np.array_equal(
        both, check.flagged["activation-clustering"] & check.flagged["spectral-signatures"]
    )
    assert not check.flagged_by_all([]).any()
    tabular = poisoning_check(load_breast_cancer_dataset(), epochs=2).findings
    assert len(tabular) == 2 and all(len(f.table) == 2 for f in tabular)
    text = Dataset(
        "t", "text", np.zeros((2, 0), np.float32), np.array([0, 1]), ["a", "b"], texts=["x", "y"]
    )
    with pytest.raises(DataError, match="needs image or tabular data"):
        poisoning_check(text)
