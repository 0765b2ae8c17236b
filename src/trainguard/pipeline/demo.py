"""``trainguard demo``: the whole lifecycle on built-in data, with problems planted to be caught.

The demo writes a workspace (``<runs>/demo-workspace``: the pipeline config of
``templates/demo.yaml``, a data folder, its signed manifest and a key pair), plants a
pickle that runs code when loaded into the data folder *after* the manifest was
signed, and runs the pipeline on digits with 6% of the training rows backdoored.
Before the gates, three showcase stages run the capabilities that need other data:
fairness on synthetic credit (with Reweighing), federated learning on Flower with
one sign-flipping bank, and DP-SGD on tabular data. A last stage, ``demo``, says
whether each planted problem was caught; the demo passes when all were and nothing
else failed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import pickle
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from trainguard.core.findings import Finding, Severity, StageResult
from trainguard.core.run import RunDir
from trainguard.pipeline.runner import run_pipeline


@dataclass(frozen=True)
class Planted:
    """A problem the demo plants and the findings (``stage/check_id`` patterns) that catch it."""

    what: str
    caught_by: tuple[str, ...]


PLANTED = (
    Planted(
        "6% of the training images carry a BadNets trigger relabelled 0",
        ("data_audit/poison-activation-clustering", "data_audit/label-errors"),
    ),
    Planted(
        "a pickle in demo-data/ calls os.getpid when loaded",
        ("data_audit/unsafe-global", "data_audit/model-file-scan"),
    ),
    Planted(
        "that pickle was added after demo-data/ was signed into a manifest",
        ("data_audit/manifest*",),
    ),
    Planted(
        "one of four banks sends sign-flipped updates",
        ("federated/update-anomalies", "federated/client-*-anomalous-updates"),
    ),
    Planted("the credit labels disadvantage group B", ("fairness/group.*",)),
)


class _RunsCode:
    """Pickled, it makes ``pickle.load`` call ``os.getpid`` (harmless, but code all the same)."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getpid, ())


def prepare_workspace(folder: Path) -> Path:
    """Write the demo's config, data folder, key pair and signed manifest; return the config."""
    from trainguard.provenance.artifacts import sign_artifact
    from trainguard.provenance.manifest import build_manifest
    from trainguard.provenance.signing import generate_keypair

    data = folder / "demo-data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "classes.json").write_text(json.dumps([str(d) for d in range(10)]))
    np.save(data / "pixel_scale.npy", np.full(64, 1 / 16, np.float32))
    (data / "preprocess.pkl").unlink(missing_ok=True)
    keys = folder / "keys"
    keys.mkdir(exist_ok=True)
    if not (keys / "demo.key").is_file():
        generate_keypair(keys / "demo.key", keys / "demo.pub")
    manifest = build_manifest(data).save(folder / "demo-data.manifest.json")
    sign_artifact(manifest, keys / "demo.key")
    (data / "preprocess.pkl").write_bytes(pickle.dumps(_RunsCode()))
    config = folder / "pipeline.yaml"
    template = resources.files("trainguard.pipeline") / "templates" / "demo.yaml"
    config.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    return config


def showcase(run: RunDir) -> None:
    """The capabilities the digits pipeline cannot show: fairness, federated, DP-SGD."""
    from trainguard.core.datasets import load_dataset
    from trainguard.fairness.report import demo_fairness_stage
    from trainguard.federated.stage import federated_demo_stage
    from trainguard.privacy import train_private_stage

    demo_fairness_stage(run, seed=0)
    federated_demo_stage(run, attack=True)
    train, test = load_dataset("breast_cancer").split(0.25, seed=0)
    train_private_stage(
        run,
        train,
        test,
        model_name="mlp",
        epochs=20,
        batch_size=64,
        lr=0.05,
        seed=0,
        target_epsilon=3.0,
        delta=None,
        max_grad_norm=1.0,
        min_accuracy=0.9,
        stage_name="dp-training",
    )


def _matches(f: Finding, pattern: str) -> bool:
    return fnmatch.fnmatchcase(f"{f.stage}/{f.check_id}", pattern)


def verdict_stage(run: RunDir) -> StageResult:
    """One finding per planted problem (caught or not) and one for anything else that failed."""
    failed = run.result.failed_findings
    stage = StageResult(name="demo", title="Demo: were the planted problems caught?")
    expected: list[Finding] = []
    for p in PLANTED:
        hits = [f for f in failed if any(_matches(f, pat) for pat in p.caught_by)]
        expected += hits
        stage.findings.append(
            Finding(
                stage="demo",
                check_id="planted-problem-caught",
                title=f"Planted: {p.what}",
                severity=Severity.INFO if hits else Severity.HIGH,
                passed=bool(hits),
                message=(
                    "caught by " + ", ".join(sorted({f"{f.stage}/{f.check_id}" for f in hits}))
                    if hits
                    else "NOT caught"
                ),
            )
        )
    other = [f for f in failed if f not in expected and f.stage != "gates"]
    stage.findings.append(
        Finding(
            stage="demo",
            check_id="nothing-else-failed",
            title="No failure beyond the planted problems",
            severity=Severity.MEDIUM,
            passed=not other,
            message="; ".join(f"{f.stage}/{f.check_id}: {f.title}" for f in other) or "none",
        )
    )
    caught = sum(1 for f in stage.findings[:-1] if f.passed)
    stage.summary = f"{caught}/{len(PLANTED)} planted problems caught, {len(other)} other failures"
    return stage


def demo_passed(run: RunDir) -> bool:
    """Whether the demo's verdict stage passed (every planted problem caught, nothing else)."""
    return all(f.passed for f in run.result.stage("demo").findings)


def run_demo(root: str | Path = "runs") -> RunDir:
    """Prepare the workspace, run the demo pipeline and its showcase, add the verdict."""
    root = Path(root)
    config = prepare_workspace(root / "demo-workspace")
    run = run_pipeline(config, runs_root=root, before_gates=showcase)
    run.add_stage(verdict_stage(run))
    return run
