"""The public API other areas rely on stays put (the guard evasion benchmark uses char_attacks)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import trainguard.robustness as rob
from trainguard.robustness import char_attacks


def test_exported_names_resolve() -> None:
    for name in rob.__all__:
        assert getattr(rob, name) is not None, name


def test_char_attacks_api_is_stable() -> None:
    sig = inspect.signature(char_attacks.perturb)
    assert list(sig.parameters) == ["text", "kinds", "budget", "seed", "targets"]
    assert sig.parameters["kinds"].default == ("typo", "leet", "homoglyph", "zero_width", "spacing")
    assert sig.parameters["budget"].default == 1 and sig.parameters["seed"].default is None
    for fn in (
        char_attacks.typo,
        char_attacks.leetspeak,
        char_attacks.homoglyphs,
        char_attacks.insert_zero_width,
    ):
        assert list(inspect.signature(fn).parameters) == ["word", "rng"]
    assert list(inspect.signature(char_attacks.space_out).parameters) == ["word", "rng", "sep"]


def test_char_attacks_load_without_torch() -> None:
    code = "import sys, trainguard.robustness.char_attacks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
