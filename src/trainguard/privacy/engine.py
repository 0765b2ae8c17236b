"""Opacus set-up for DP-SGD: layer checks with fixes, grad-sample mode choice, private parts.

Per-sample gradients, clipping, noise and accounting are Opacus's
(:class:`opacus.PrivacyEngine`); this module adds what it leaves to the user: an
error that names each unsupported layer and its fix, measuring which grad-sample
mode is fastest for a model, seeded Poisson sampling and noise without the global
RNG, and the clipped per-sample gradients exactly as the optimizer computes them.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainguard.core.errors import ModelError, require
from trainguard.core.validation import check_choice, check_positive

GradSampleMode = Literal["ghost", "ew", "hooks", "functorch"]
GRAD_SAMPLE_MODES: tuple[GradSampleMode, ...] = ("ghost", "ew", "hooks", "functorch")
"""Opacus's grad-sample modes, in the order they are usually fastest on small models."""

OptimizerName = Literal["adam", "sgd"]

_FIXES = {
    "BatchNorm": "replace it with GroupNorm (it mixes the samples of a batch)",
    "InstanceNorm": "set track_running_stats=False (running statistics mix samples)",
    "LSTM": "replace it with opacus.layers.DPLSTM",
    "GRU": "replace it with opacus.layers.DPGRU",
    "RNN": "replace it with opacus.layers.DPRNN",
    "MultiheadAttention": "replace it with opacus.layers.DPMultiheadAttention",
}


def _fix_for(module: nn.Module) -> str:
    name = type(module).__name__
    for key, fix in _FIXES.items():
        if key in name:
            return fix
    return "replace it with a layer that treats each sample independently"


def check_dp_compatible(model: nn.Module) -> None:
    """Raise :class:`ModelError` naming every layer Opacus cannot train privately, with its fix.

    Runs Opacus's ``ModuleValidator`` on each sub-module so the message can say
    *which* layer (``'features.1' (BatchNorm2d)``) is the problem; ``fix_model=True``
    in :func:`~trainguard.privacy.dpsgd.train_private` applies Opacus's own fixes.
    """
    require("opacus", "privacy")
    from opacus.validators import ModuleValidator

    problems = []
    for name, module in model.named_modules():
        validator = ModuleValidator.VALIDATORS.get(type(module))
        if validator is not None and validator(module):
            problems.append(
                f"layer '{name or '<root>'}' ({type(module).__name__}): {_fix_for(module)}"
            )
    if problems:
        raise ModelError(
            "DP-SGD cannot train this model as is: "
            + "; ".join(problems)
            + " (or pass fix_model=True to let Opacus's ModuleValidator.fix replace them)"
        )


def make_dp_compatible(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with unsupported layers replaced by Opacus's ``ModuleValidator.fix``."""
    require("opacus", "privacy")
    from opacus.validators import ModuleValidator

    fixed: nn.Module = ModuleValidator.fix(model)
    check_dp_compatible(fixed)
    return fixed


@dataclass
class PrivateParts:
    """What ``PrivacyEngine.make_private`` returns, with the engine and criterion always set."""

    engine: Any
    module: nn.Module
    optimizer: Any
    criterion: Any
    loader: DataLoader[Any]
    mode: GradSampleMode

    @property
    def sample_rate(self) -> float:
        """Poisson sampling rate ``1 / len(loader)``, as Opacus's accountant records it."""
        return 1.0 / len(self.loader)


def make_private(
    model: nn.Module,
    loader: DataLoader[Any],
    *,
    noise_multiplier: float,
    max_grad_norm: float,
    mode: GradSampleMode = "hooks",
    optimizer: OptimizerName = "adam",
    lr: float = 1e-3,
    accountant: str = "rdp",
    poisson_sampling: bool = True,
    seed: int | None = None,
) -> PrivateParts:
    """Wrap ``model``, an optimizer and ``loader`` with Opacus's ``PrivacyEngine.make_private``.

    Poisson sampling (Opacus's ``DPDataLoader``) and the noise both draw from
    generators seeded with ``seed`` (a fresh OS-entropy seed when ``None``), never
    from torch's global RNG. In ``ghost`` mode the criterion is Opacus's wrapped loss
    whose ``backward`` runs the two passes of ghost clipping.
    """
    require("opacus", "privacy")
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader

    check_choice(mode, "mode", "make_private", GRAD_SAMPLE_MODES)
    check_choice(optimizer, "optimizer", "make_private", ("adam", "sgd"))
    check_positive(max_grad_norm, "max_grad_norm", "make_private")
    check_dp_compatible(model)
    model.train()
    sample_gen, noise_gen = _generators(seed)
    if poisson_sampling:
        loader = DPDataLoader.from_data_loader(loader, generator=sample_gen)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (
        torch.optim.Adam(params, lr=lr)
        if optimizer == "adam"
        else torch.optim.SGD(params, lr=lr, momentum=0.9)
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        engine = PrivacyEngine(accountant=accountant)
    out = engine.make_private(
        module=model,
        optimizer=opt,
        criterion=nn.CrossEntropyLoss(),
        data_loader=loader,
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        poisson_sampling=False,  # already Poisson, with our generator
        grad_sample_mode=mode,
        noise_generator=noise_gen,
    )
    if mode == "ghost":
        module, dp_opt, criterion, dp_loader = out
    else:
        (module, dp_opt, dp_loader), criterion = out, nn.CrossEntropyLoss()
    return PrivateParts(engine, module, dp_opt, criterion, dp_loader, mode)


def _generators(seed: int | None) -> tuple[torch.Generator, torch.Generator]:
    import secrets

    base = secrets.randbits(62) if seed is None else int(seed)
    sample_gen, noise_gen = torch.Generator(), torch.Generator()
    sample_gen.manual_seed(base)
    noise_gen.manual_seed(base + 1)
    return sample_gen, noise_gen


@contextlib.contextmanager
def quiet_hooks() -> Iterator[None]:
    """Silence torch's notice that full backward hooks fire on inputs without gradients."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def private_step(parts: PrivateParts, batch: Sequence[torch.Tensor]) -> tuple[float, int, int]:
    """One DP-SGD step on ``batch``; returns (summed loss, correct predictions, batch size)."""
    x, y = batch[0], batch[1]
    parts.optimizer.zero_grad(set_to_none=True)
    logits = parts.module(x)
    loss = parts.criterion(logits, y)
    with quiet_hooks():
        loss.backward()
    parts.optimizer.step()
    n = len(y)
    value = float(loss.detach()) * n if n else 0.0
    return value, int((logits.detach().argmax(1) == y).sum()), n


@dataclass
class ModeChoice:
    """The grad-sample mode picked for a model and what each candidate measured."""

    mode: GradSampleMode
    seconds_per_step: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def select_grad_sample_mode(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    max_grad_norm: float = 1.0,
    candidates: Sequence[GradSampleMode] = GRAD_SAMPLE_MODES,
    repeats: int = 3,
) -> ModeChoice:
    """Time DP-SGD steps of a copy of ``model`` on ``(x, y)`` in each mode; pick the fastest.

    After a warm-up step each, the modes take turns for ``repeats`` rounds of one
    step, and each keeps its fastest step: interference from other work on the
    machine only ever adds time, so the minimum is the steadiest estimate. A mode
    that raises (a layer it cannot handle, parameter tying under ghost clipping) is
    recorded in ``errors`` and skipped. The model itself is not touched.
    """
    require("opacus", "privacy")
    errors: dict[str, str] = {}
    loader = DataLoader(TensorDataset(x, y), batch_size=len(x))
    ready: dict[str, PrivateParts] = {}
    for mode in candidates:
        try:
            parts = make_private(
                copy.deepcopy(model),
                loader,
                noise_multiplier=1.0,
                max_grad_norm=max_grad_norm,
                mode=mode,
                poisson_sampling=False,
                seed=0,
            )
            private_step(parts, (x, y))  # warm-up, and the test that the mode works
            ready[mode] = parts
        except (RuntimeError, NotImplementedError, ValueError, TypeError, AttributeError) as exc:
            errors[mode] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if not ready:
        raise ModelError(
            "no Opacus grad-sample mode can train this model: "
            + "; ".join(f"{m}: {e}" for m, e in errors.items())
        )
    best_time = dict.fromkeys(ready, float("inf"))
    for _ in range(repeats):
        for name, prepared in ready.items():
            t0 = time.perf_counter()
            private_step(prepared, (x, y))
            best_time[name] = min(best_time[name], time.perf_counter() - t0)
    times: dict[str, float | None] = {m: best_time.get(m) for m in candidates}
    best = min(best_time, key=lambda m: best_time[m])
    return ModeChoice(mode=best, seconds_per_step=times, errors=errors)  # type: ignore[arg-type]


def clipped_per_sample_gradients(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    max_grad_norm: float,
    mode: Literal["hooks", "functorch", "ew"] = "hooks",
) -> torch.Tensor:
    """Per-sample gradients ``(n, n_params)`` after Opacus's flat clipping to ``max_grad_norm``.

    The clip factor is the one of ``DPOptimizer.clip_and_accumulate``:
    ``min(1, C / (norm + 1e-6))``; summing the rows gives the optimizer's ``summed_grad``.
    """
    require("opacus", "privacy")
    from opacus.grad_sample import GradSampleModule
    from opacus.grad_sample.gsm_exp_weights import GradSampleModuleExpandedWeights

    check_choice(mode, "mode", "clipped_per_sample_gradients", ("hooks", "functorch", "ew"))
    check_positive(max_grad_norm, "max_grad_norm", "clipped_per_sample_gradients")
    check_dp_compatible(model)
    m = copy.deepcopy(model)
    m.train()
    gsm: Any = (
        GradSampleModuleExpandedWeights(m)
        if mode == "ew"
        else GradSampleModule(m, force_functorch=mode == "functorch")
    )
    with quiet_hooks():
        nn.functional.cross_entropy(gsm(x), y).backward()
    grads = torch.cat(
        [p.grad_sample.reshape(len(x), -1) for p in m.parameters() if p.requires_grad],  # type: ignore[attr-defined]
        dim=1,
    )
    gsm.to_standard_module()
    factor = (max_grad_norm / (grads.norm(dim=1) + 1e-6)).clamp(max=1.0)
    return grads * factor[:, None]
