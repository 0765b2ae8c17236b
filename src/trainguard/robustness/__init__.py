"""Adversarial robustness: attacks, adversarial training and robustness evaluation.

Submodules are imported on first use, so ``trainguard.robustness.char_attacks`` (pure
Python) loads without PyTorch.
"""
