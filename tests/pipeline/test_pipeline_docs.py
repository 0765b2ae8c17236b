"""docs/pipeline.md documents every field of the pipeline config."""

import re
from pathlib import Path

import pytest

from trainguard.pipeline import config as c

DOC = (Path(__file__).resolve().parents[2] / "docs" / "pipeline.md").read_text()
MODELS = [
    c.PipelineConfig,
    c.DataConfig,
    c.PoisonSimulation,
    c.DataAuditConfig,
    c.PoisonCheckOptions,
    c.TrainConfig,
    c.RobustnessOptions,
    c.BackdoorOptions,
    c.MembershipOptions,
    c.FairnessOptions,
    c.AttackConfig,
    c.ShipConfig,
    c.ServeConfig,
    c.Gate,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_documented(model):
    # a field appears in code style, alone or dotted: `epochs`, `poison`, `robustness.steps`
    missing = [n for n in model.model_fields if not re.search(rf"[`.]{re.escape(n)}[`.]", DOC)]
    assert missing == []
