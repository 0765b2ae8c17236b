"""Loaders for the public data sets the guard benchmarks use (../shared/data)."""

from __future__ import annotations

import csv
import json
import sys

from benchmarks.common import SHARED_DATA

csv.field_size_limit(sys.maxsize)


def _csv(*parts: str) -> list[dict[str, str]]:
    with SHARED_DATA.joinpath(*parts).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _jsonl(*parts: str) -> list[dict[str, object]]:
    with SHARED_DATA.joinpath(*parts).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def davidson() -> tuple[list[str], list[int]]:
    """Davidson tweets with label 1 for hate or offensive, 0 for neither."""
    rows = _csv("hate_speech_davidson", "labeled_data.csv")
    return [r["tweet"] for r in rows], [int(r["class"] != "2") for r in rows]


def jailbreaks() -> list[str]:
    """The 666 in-the-wild jailbreak prompts (2023-05-07)."""
    rows = _csv("jailbreak_prompts", "in_the_wild_2023_05_07", "jailbreak_prompts_2023_05_07.csv")
    return [r["prompt"] for r in rows]


def benign_prompts() -> list[str]:
    """AlpacaEval instructions and Self-Instruct seed tasks (980 benign prompts)."""
    a = [str(r["instruction"]) for r in _jsonl("benign_prompts", "alpaca_eval_instructions.jsonl")]
    b = [str(r["instruction"]) for r in _jsonl("benign_prompts", "self_instruct_seed_tasks.jsonl")]
    return a + b


def xstest_safe() -> list[str]:
    """XSTest's 250 safe prompts with trigger words."""
    return [r["prompt"] for r in _csv("xstest", "xstest_prompts.csv") if r["label"] == "safe"]


def injection_sets() -> dict[str, list[str]]:
    """Other attack sets: Giskard prompts, Tensor Trust hijacking/extraction attacks."""
    tt_h = _jsonl("prompt_injection", "tensor_trust", "hijacking_robustness_dataset.jsonl")
    tt_e = _jsonl("prompt_injection", "tensor_trust", "extraction_robustness_dataset.jsonl")
    return {
        "giskard": [
            r["prompt"] for r in _csv("prompt_injection", "giskard", "prompt_injections.csv")
        ],
        "tensor_trust_hijacking": [str(r["attack"]) for r in tt_h],
        "tensor_trust_extraction": [str(r["attack"]) for r in tt_e],
    }


LDNOOBW_EN = SHARED_DATA / "profanity_wordlists" / "ldnoobw" / "en.txt"


def ldnoobw_en() -> list[str]:
    """The LDNOOBW English list (403 terms)."""
    return [t.strip() for t in LDNOOBW_EN.read_text(encoding="utf-8").splitlines() if t.strip()]
