"""Backdoor triggers for images and text.

One formula covers every image trigger here::

    x' = clip((1 - mask) * x + mask * pattern + signal, 0, 1)

- BadNets (Gu et al. 2017, "BadNets: Identifying Vulnerabilities in the Machine
  Learning Model Supply Chain"): a binary mask over a small square, a pattern inside it.
- Blended injection (Chen et al. 2017, "Targeted Backdoor Attacks on Deep Learning
  Systems Using Data Poisoning"): a constant mask ``alpha`` over the whole image and a
  random-noise key pattern.
- SIG (Barni et al. 2019, "A new Backdoor Attack in CNNs by training set corruption
  without label poisoning"): no mask, an additive sinusoid ``delta * sin(2 pi j f / m)``.
- A reversed trigger (Neural Cleanse's mask and pattern) is an ``ImageTrigger`` too.

Text triggers insert a rare token (Kurita et al. 2020, "Weight Poisoning Attacks on
Pre-trained Models": ``cf``, ``mn``, ``bb``, ``tq``, ``mb``) or a phrase (Dai et al.
2019, "A backdoor attack against LSTM-based text classification systems").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from trainguard.core.errors import ParameterError
from trainguard.core.validation import check_choice, check_int, check_real

RARE_TOKENS = ("cf", "mn", "bb", "tq", "mb")
"""The rare-token triggers of Kurita et al. (2020)."""

TextPosition = Literal["random", "start", "end"]


@dataclass(frozen=True)
class ImageTrigger:
    """An image trigger: ``clip((1 - mask) * x + mask * pattern + signal, 0, 1)``.

    Attributes
    ----------
    name
        ``badnets``, ``blended``, ``sig`` or ``reversed``.
    mask
        ``(h, w)`` blending weights in [0, 1], shared by all channels.
    pattern
        ``(c, h, w)`` values in [0, 1] written where the mask is on.
    signal
        ``(c, h, w)`` additive perturbation (SIG), zeros for the others.
    """

    name: str
    mask: np.ndarray
    pattern: np.ndarray
    signal: np.ndarray

    def __post_init__(self) -> None:
        if self.mask.ndim != 2 or self.pattern.ndim != 3 or self.signal.shape != self.pattern.shape:
            raise ParameterError(
                f"trigger {self.name!r}: expected mask (h, w) and pattern/signal (c, h, w), "
                f"got {self.mask.shape}, {self.pattern.shape}, {self.signal.shape}"
            )
        if self.mask.shape != self.pattern.shape[1:]:
            raise ParameterError(
                f"trigger {self.name!r}: mask {self.mask.shape} does not match pattern {self.pattern.shape}"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """The ``(c, h, w)`` input shape this trigger is made for."""
        c, h, w = self.pattern.shape
        return int(c), int(h), int(w)

    @property
    def mask_l1(self) -> float:
        """L1 norm of the mask (the trigger's size in pixels for a binary mask)."""
        return float(np.abs(self.mask).sum())

    def stamp(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the trigger to a batch ``(n, c, h, w)`` of images in [0, 1]."""
        if tuple(x.shape[1:]) != self.shape:
            raise ParameterError(
                f"trigger {self.name!r} is for inputs {self.shape}, got {tuple(x.shape[1:])}"
            )
        m = torch.as_tensor(self.mask, dtype=x.dtype)
        p = torch.as_tensor(self.pattern, dtype=x.dtype)
        s = torch.as_tensor(self.signal, dtype=x.dtype)
        return ((1 - m) * x + m * p + s).clamp(0.0, 1.0)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Apply the trigger to a numpy batch ``(n, c, h, w)``; returns ``float32``."""
        return self.stamp(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy()

    def picture(self) -> np.ndarray:
        """The trigger for reports, ``(c, h, w)`` in [0, 1].

        ``mask * pattern`` for mask triggers; an additive signal is shown around mid-grey.
        """
        amp = float(np.abs(self.signal).max()) if self.signal.size else 0.0
        if amp > 0:
            return (0.5 + 0.5 * self.signal / amp).astype(np.float32)
        return np.clip(self.mask * self.pattern, 0.0, 1.0).astype(np.float32)


def reversed_patch(mask: np.ndarray, pattern: np.ndarray) -> ImageTrigger:
    """A reversed mask-and-pattern trigger (no additive signal), as the detectors recover."""
    pattern = np.asarray(pattern, np.float32)
    return ImageTrigger("reversed", np.asarray(mask, np.float32), pattern, np.zeros_like(pattern))


def _shape(shape: Sequence[int], owner: str) -> tuple[int, int, int]:
    if len(shape) != 3 or any(int(v) < 1 for v in shape):
        raise ParameterError(
            f"The 'shape' parameter of {owner} must be (channels, height, width). Got {tuple(shape)!r} instead."
        )
    c, h, w = (int(v) for v in shape)
    return c, h, w


def badnets_trigger(
    shape: Sequence[int],
    *,
    size: int = 3,
    position: tuple[int, int] | None = None,
    pattern: Literal["random", "white", "checker"] = "random",
    seed: int = 0,
) -> ImageTrigger:
    """A BadNets patch trigger (Gu et al. 2017): a ``size`` x ``size`` patch at ``position``.

    Parameters
    ----------
    shape
        ``(c, h, w)`` of the inputs.
    size
        Side of the square patch in pixels.
    position
        ``(row, col)`` of the patch's top-left corner; drawn at random when ``None``.
    pattern
        ``random`` (a random binary pattern, 40-80 % of its pixels on), ``white`` or
        ``checker``.
    seed
        Seed of the generator that draws the position and the random pattern.
    """
    c, h, w = _shape(shape, "badnets_trigger")
    check_int(size, "size", "badnets_trigger", low=1, high=min(h, w))
    check_choice(pattern, "pattern", "badnets_trigger", ("random", "white", "checker"))
    rng = np.random.default_rng(seed)
    if position is None:
        r, col = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    else:
        r, col = position
        if not (0 <= r <= h - size and 0 <= col <= w - size):
            raise ParameterError(
                f"The 'position' parameter of badnets_trigger must place a {size}x{size} patch inside {h}x{w}. Got {position!r} instead."
            )
    if pattern == "white":
        patch = np.ones((c, size, size))
    elif pattern == "checker":
        patch = np.broadcast_to((np.indices((size, size)).sum(0) % 2 == 0), (c, size, size))
    else:
        while True:
            patch = (rng.random((c, size, size)) < 0.6).astype(float)
            if size == 1 or 0.4 <= patch.mean() <= 0.8:
                break
    mask = np.zeros((h, w), np.float32)
    mask[r : r + size, col : col + size] = 1.0
    full = np.zeros((c, h, w), np.float32)
    full[:, r : r + size, col : col + size] = patch
    return ImageTrigger("badnets", mask, full, np.zeros_like(full))


def blended_trigger(
    shape: Sequence[int],
    *,
    alpha: float = 0.2,
    key: np.ndarray | None = None,
    seed: int = 0,
) -> ImageTrigger:
    """A blended-injection trigger (Chen et al. 2017): ``x' = alpha * key + (1 - alpha) * x``.

    Parameters
    ----------
    shape
        ``(c, h, w)`` of the inputs.
    alpha
        Blend ratio in (0, 1]; the paper's poisoning uses 0.2.
    key
        The key pattern ``(c, h, w)`` in [0, 1]; uniform random noise when ``None``.
    seed
        Seed of the generator that draws the random key.
    """
    c, h, w = _shape(shape, "blended_trigger")
    a = check_real(alpha, "alpha", "blended_trigger", low=0.0, high=1.0, low_open=True)
    if key is None:
        key = np.random.default_rng(seed).random((c, h, w))
    key = np.asarray(key, dtype=np.float32)
    if key.shape != (c, h, w):
        raise ParameterError(
            f"The 'key' parameter of blended_trigger must have shape {(c, h, w)}. Got {key.shape} instead."
        )
    mask = np.full((h, w), a, np.float32)
    return ImageTrigger("blended", mask, key.astype(np.float32), np.zeros((c, h, w), np.float32))


def sig_trigger(
    shape: Sequence[int], *, delta: float = 20 / 255, frequency: float = 6.0
) -> ImageTrigger:
    """The SIG ramp-free sinusoidal trigger (Barni et al. 2019).

    ``v(i, j) = delta * sin(2 * pi * j * frequency / m)`` for an ``m``-column image,
    added to every row and channel. The paper uses ``delta = 20`` (of 255) and
    ``frequency = 6`` on MNIST.
    """
    c, h, w = _shape(shape, "sig_trigger")
    d = check_real(delta, "delta", "sig_trigger", low=0.0, high=1.0, low_open=True)
    f = check_real(frequency, "frequency", "sig_trigger", low=0.0, low_open=True)
    row = d * np.sin(2 * np.pi * np.arange(w) * f / w)
    signal = np.broadcast_to(row, (c, h, w)).astype(np.float32)
    return ImageTrigger(
        "sig", np.zeros((h, w), np.float32), np.zeros((c, h, w), np.float32), signal.copy()
    )


IMAGE_TRIGGERS = ("badnets", "blended", "sig")


def image_trigger(
    name: str,
    shape: Sequence[int],
    *,
    size: int = 3,
    corner: bool = True,
    alpha: float = 0.2,
    delta: float = 20 / 255,
    seed: int = 0,
) -> ImageTrigger:
    """The image trigger called ``name`` (``badnets``, ``blended`` or ``sig``).

    ``size`` and ``corner`` (bottom-right patch, else a random position) shape the
    BadNets patch, ``alpha`` the blend, ``delta`` the SIG amplitude.
    """
    check_choice(name, "name", "image_trigger", IMAGE_TRIGGERS)
    if name == "badnets":
        _, h, w = _shape(shape, "image_trigger")
        position = (h - size, w - size) if corner else None
        return badnets_trigger(shape, size=size, position=position, seed=seed)
    if name == "blended":
        return blended_trigger(shape, alpha=alpha, seed=seed)
    return sig_trigger(shape, delta=delta)


@dataclass(frozen=True)
class TextTrigger:
    """A text trigger: ``words`` inserted at the start, the end or a random word boundary."""

    words: tuple[str, ...]
    position: TextPosition = "random"

    def __post_init__(self) -> None:
        if not self.words or any(not w or w.split() != [w] for w in self.words):
            raise ParameterError(
                f"The 'words' parameter of TextTrigger must be non-empty words without spaces. Got {self.words!r} instead."
            )
        check_choice(self.position, "position", "TextTrigger", ("random", "start", "end"))

    @property
    def phrase(self) -> str:
        """The inserted words joined by spaces."""
        return " ".join(self.words)

    def apply(self, text: str, rng: np.random.Generator) -> str:
        """Return ``text`` with the trigger inserted (``rng`` picks a random position)."""
        words = text.split()
        if self.position == "start":
            at = 0
        elif self.position == "end":
            at = len(words)
        else:
            at = int(rng.integers(0, len(words) + 1))
        return " ".join([*words[:at], *self.words, *words[at:]])


def rare_token_trigger(
    n_tokens: int = 1, *, position: TextPosition = "random", seed: int = 0
) -> TextTrigger:
    """A trigger of ``n_tokens`` rare tokens drawn from :data:`RARE_TOKENS` (Kurita et al. 2020)."""
    check_int(n_tokens, "n_tokens", "rare_token_trigger", low=1, high=len(RARE_TOKENS))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(RARE_TOKENS), size=n_tokens, replace=False)
    return TextTrigger(tuple(RARE_TOKENS[i] for i in picked), position)


def phrase_trigger(
    phrase: str = "I watched this 3D movie", *, position: TextPosition = "random"
) -> TextTrigger:
    """A phrase trigger; the default is Dai et al.'s (2019) ``I watched this 3D movie``."""
    return TextTrigger(tuple(phrase.split()), position)
