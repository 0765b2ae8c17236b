"""Mitigation end to end on zoo models: reweighing, Exponentiated Gradient, thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fairness.conftest import credit_with_group

from trainguard.core.errors import DataError, NotFittedError, ParameterError
from trainguard.core.training import train_model
from trainguard.fairness import AuditSettings, statistical_parity_difference
from trainguard.fairness.mitigation import ZooClassifier, exponentiated_gradient, mitigate

SPD = "statistical_parity_difference"


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    train, test = credit_with_group(2000).split(0.3, seed=0)
    base = train_model(train, model_name="logreg", epochs=6, batch_size=128, lr=1e-2, seed=0)
    return base, train, test


def test_reweighing_cuts_the_parity_gap(setup) -> None:  # type: ignore[no-untyped-def]
    base, train, test = setup
    result = mitigate(
        "reweighing",
        base,
        train,
        test,
        sensitive=["group"],
        epochs=6,
        settings=AuditSettings(n_boot=200),
    )
    before, after = result.before.gaps[SPD].value, result.after.gaps[SPD].value
    assert before > 0.3  # type: ignore[operator]
    assert after < before / 2  # type: ignore[operator]
    assert result.reduction(SPD) == pytest.approx(1 - after / before)  # type: ignore[operator]
    assert result.model is not None and result.model.name == "logreg"
    rows = {row["metric"]: row for row in result.table()}
    assert rows["accuracy"]["before"] == result.before.accuracy
    (finding,) = result.to_findings("fairness")
    assert finding.check_id == "group.mitigation-reweighing"
    assert finding.metrics[f"{SPD}_after"] == after


def test_thresholds_equalise_odds_on_held_out_rows(setup) -> None:  # type: ignore[no-untyped-def]
    base, train, test = setup
    result = mitigate(
        "thresholds", base, train, test, sensitive=["group"], settings=AuditSettings(n_boot=0)
    )
    assert result.constraint == "equalized_odds"
    eo = "equalized_odds_difference"
    assert result.after.gaps[eo].value < result.before.gaps[eo].value  # type: ignore[operator]
    assert result.after.gaps[eo].value < 0.1  # type: ignore[operator]


def test_exponentiated_gradient_around_a_zoo_model() -> None:
    train, test = credit_with_group(1500, seed=1).split(0.3, seed=0)
    groups = train.sensitive["group"]
    plain = ZooClassifier(epochs=4).fit(train.X, train.y)
    reduction = exponentiated_gradient(
        train.X, train.y, sensitive_features=groups, estimator=ZooClassifier(epochs=4), max_iter=8
    )
    gap_plain = statistical_parity_difference(
        test.y, plain.predict(test.X), sensitive_features=test.sensitive["group"]
    )
    gap_fair = statistical_parity_difference(
        test.y,
        reduction.predict(test.X, random_state=0),
        sensitive_features=test.sensitive["group"],
    )
    assert gap_fair < gap_plain / 2  # type: ignore[operator]


def test_zoo_classifier_and_mitigate_errors(setup) -> None:  # type: ignore[no-untyped-def]
    base, train, test = setup
    with pytest.raises(NotFittedError):
        ZooClassifier().predict(np.zeros((2, 9)))
    with pytest.raises(ParameterError, match="constraint"):
        mitigate("reweighing", base, train, test, sensitive=["group"], constraint="equalized_odds")
    with pytest.raises(ParameterError, match="constraint"):
        mitigate(
            "thresholds", base, train, test, sensitive=["group"], constraint="demographic_parity"
        )
    with pytest.raises(DataError, match="no sensitive column 'sex'"):
        mitigate("thresholds", base, train, test, sensitive=["sex"])
    with pytest.raises(ParameterError, match="method"):
        mitigate("massage", base, train, test, sensitive=["group"])  # type: ignore[arg-type]
