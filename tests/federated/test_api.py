"""The public API: a sorted export list, no Flower import at package import, the docs' config is valid."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

import trainguard.federated as fed
from trainguard.federated import parse_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "federated.md"


def test_exports_are_sorted_and_exist() -> None:
    assert fed.__all__ == sorted(fed.__all__)
    assert all(hasattr(fed, name) for name in fed.__all__)


def test_importing_the_package_does_not_import_flower() -> None:
    code = "import sys, trainguard.federated; print(any(m.split('.')[0] in ('flwr', 'ray') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_documented_config_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    for block in blocks:
        cfg = parse_config(yaml.safe_load(block), "docs/federated.md")
        assert cfg.num_attackers == 1 and cfg.strategy.name == "median"
