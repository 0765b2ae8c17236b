"""Helpers to build a :class:`StageResult` with its timing (moved to :mod:`trainguard.core.stage`)."""

from __future__ import annotations

from trainguard.core.stage import recorded_stage

__all__ = ["recorded_stage"]
