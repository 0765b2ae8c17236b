"""Judge a pickle stream: every import against the allow-list, every call's target.

The symbolic :class:`~trainguard.supplychain.pickle_vm.PickleMachine` walks the
stream; :class:`PickleJudge` turns its events into issues:

* each import is judged by :class:`~trainguard.supplychain.allowlist.AllowPolicy`;
* a call whose callable is not an imported global (a getattr chain, a value returned
  by an earlier call) is *critical*, as is an import whose names are computed at load
  time;
* ``BUILD``/``SETITEM``/``APPEND`` on an imported object (monkey-patching) is *high*;
* extension-registry codes are *high* (their meaning depends on the loading process);
* ``torch.storage._load_from_bytes`` payloads are scanned as nested files;
* joblib files are walked twice: as ``pickle.load`` reads them (the bytes after a
  ``NumpyArrayWrapper`` parsed as opcodes) and as ``joblib.load`` reads them (array
  bytes skipped, object arrays walked as the nested pickles they are), so neither
  loader can be shown a stream the scanner did not see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from trainguard.core.findings import Severity
from trainguard.supplychain.allowlist import AllowPolicy
from trainguard.supplychain.pickle_values import Blob, Call, Global, Map, Opaque, Seq
from trainguard.supplychain.pickle_vm import OPCODES, Malformed, PickleMachine
from trainguard.supplychain.reader import Budget, ScanAborted, ScanLimits, Source
from trainguard.supplychain.report import UNSCANNABLE, IssueCollector

_MAX_PICKLES = 64
_JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_SIMPLE_DTYPE = re.compile(r"[?bBhHiIlLqQpPefdgFDGSUVaOMmuc]\d*|[biufcmMVSUO]\d*")


@dataclass
class PickleContext:
    """What a pickle walk reports into and may recurse with."""

    location: str
    policy: AllowPolicy
    budget: Budget
    limits: ScanLimits
    sink: IssueCollector
    depth: int = 0
    nested: Callable[[Source, str, int], None] | None = None
    globals_seen: set[str] = field(default_factory=set)
    storages: dict[str, str] = field(default_factory=dict)
    joblib_arrays: int = 0

    def add(self, check_id: str, severity: Severity, message: str, **kw: object) -> None:
        """Record an issue at this context's location."""
        self.sink.add(check_id, severity, message, location=self.location, **kw)  # type: ignore[arg-type]


def _describe(value: object) -> str:
    if isinstance(value, Call):
        inner = value.func
        name = inner.qualname if isinstance(inner, Global) else "a computed value"
        return f"the result of calling {name}"
    if isinstance(value, Global):
        return value.qualname
    if isinstance(value, Opaque):
        return value.reason
    return type(value).__name__


class PickleJudge:
    """Hooks for :class:`PickleMachine` that apply the policy (see module docstring)."""

    def __init__(self, ctx: PickleContext, src: Source, *, joblib: bool) -> None:
        self.ctx = ctx
        self.src = src
        self.joblib = joblib
        self.wrapper_end: int | None = None
        self.nesting = 0

    def on_global(self, g: Global, proto: int) -> None:
        """Judge an import."""
        ctx = self.ctx
        ctx.globals_seen.add(g.qualname)
        verdict = ctx.policy.judge(g.module, g.name, proto)
        if verdict.severity is not None:
            ctx.add(
                verdict.check_id,
                verdict.severity,
                f"{g.qualname}: {verdict.reason}",
                module=g.module,
                name=g.name,
                offset=g.offset,
            )

    def on_call(self, call: Call) -> None:
        """Judge a call's target; scan nested torch payloads."""
        func = call.func
        if not isinstance(func, Global):
            self.ctx.add(
                "computed-callable",
                Severity.CRITICAL,
                f"calls {_describe(func)} (a value computed while loading, as in getattr chains)",
                offset=call.offset,
            )
        elif (func.module, func.name) == ("torch.storage", "_load_from_bytes"):
            self._nested_bytes(call)

    def _nested_bytes(self, call: Call) -> None:
        args = call.args
        blob = args.items[0] if isinstance(args, Seq) and len(args.items) == 1 else None
        if not isinstance(blob, Blob):
            self.ctx.add(
                UNSCANNABLE,
                Severity.HIGH,
                "torch.storage._load_from_bytes is given a value that is not a literal payload",
                offset=call.offset,
            )
            return
        sub = self.src.window(blob.offset, blob.length)
        if sub is None or self.ctx.nested is None:
            self.ctx.add(
                UNSCANNABLE,
                Severity.HIGH,
                "nested torch payload cannot be re-read",
                offset=blob.offset,
            )
            return
        self.ctx.nested(sub, f"@{blob.offset}", self.ctx.depth + 1)

    def on_build(self, target: object, state: object, offset: int) -> None:
        """Flag BUILD on imports; read joblib array data."""
        if isinstance(target, Global):
            self._mutation(target, "BUILD", offset)
        elif (
            isinstance(target, Call)
            and isinstance(target.func, Global)
            and (target.func.module, target.func.name) == _JOBLIB_WRAPPER
        ):
            self.ctx.joblib_arrays += 1
            if self.wrapper_end is None:
                self.wrapper_end = self.src.tell()
            if self.joblib:
                self._joblib_array(state, offset)

    def on_mutation(self, target: object, op: str, offset: int) -> None:
        """Flag container opcodes applied to an import."""
        if isinstance(target, Global):
            self._mutation(target, op, offset)

    def _mutation(self, target: Global, op: str, offset: int) -> None:
        self.ctx.add(
            "global-mutation",
            Severity.HIGH,
            f"{op} changes the imported object {target.qualname}",
            offset=offset,
        )

    def on_opaque(self, kind: str, value: object, offset: int) -> None:
        """Record loader-supplied values (torch storages are expected)."""
        if kind == "persistent id":
            if _torch_storage(value, self.ctx.storages):
                return
            self.ctx.add("opaque-value", Severity.LOW, "persistent id resolved by the loader")
        elif kind == "dynamic import":
            names = value if isinstance(value, tuple) else ()
            self.ctx.add(
                "dynamic-import",
                Severity.CRITICAL,
                "STACK_GLOBAL imports " + " / ".join(_describe(v) for v in names),
                offset=offset,
            )
        elif kind == "extension code":
            self.ctx.add(
                "opaque-value",
                Severity.HIGH,
                f"extension code {value}: imports whatever copyreg's registry maps it to",
                offset=offset,
            )
        else:
            self.ctx.add("opaque-value", Severity.LOW, f"{kind} supplied by the loader")

    def _joblib_array(self, state: object, offset: int) -> None:
        """Consume the array data ``joblib.load`` reads right after the wrapper's BUILD."""
        info = _wrapper_layout(state)
        if info is None:
            raise Malformed(f"joblib array wrapper with an unreadable layout at offset {offset}")
        nbytes, has_object, aligned = info
        if has_object:
            if self.nesting >= self.ctx.limits.max_depth:
                raise Malformed(f"joblib object arrays nested more than {self.nesting} deep")
            self.nesting += 1
            try:
                inline = self.ctx.limits.max_inline_bytes
                PickleMachine(self.src, self, self.ctx.budget, inline=inline).run()
            finally:
                self.nesting -= 1
            return
        if aligned:
            self.src.skip(self.src.read(1)[0])
        self.src.skip(nbytes)


def _torch_storage(pid: object, storages: dict[str, str]) -> bool:
    """Record a torch storage persistent id ``('storage', type, key, location, numel)``."""
    if not isinstance(pid, Seq) or len(pid.items) < 5 or pid.items[0] != "storage":
        return False
    kind, key = pid.items[1], pid.items[2]
    if not isinstance(kind, Global) or not isinstance(key, str):
        return False
    storages[key] = kind.name
    return True


def _dtype_layout(dtype: object, depth: int = 0) -> tuple[int, bool] | None:
    """(itemsize, holds objects) of a pickled ``numpy.dtype`` call, without running it."""
    if not (isinstance(dtype, Call) and isinstance(dtype.func, Global)):
        return None
    if dtype.func.name != "dtype" or not dtype.func.module.startswith("numpy"):
        return None
    args, state = dtype.args, dtype.state
    code = args.items[0] if isinstance(args, Seq) and args.items else None
    if not isinstance(code, str) or not _SIMPLE_DTYPE.fullmatch(code):
        return None
    fields = state.items if isinstance(state, Seq) else []
    elsize = fields[5] if len(fields) > 5 and isinstance(fields[5], int) else -1
    nested = [v for v in (fields[2:5] if len(fields) > 4 else []) if v is not None]
    has_object = code.startswith("O") or any(_has_object(v, depth + 1) for v in nested)
    if elsize > 0:
        return elsize, has_object
    return int(np.dtype(code).itemsize), has_object


def _has_object(value: object, depth: int = 0) -> bool:
    if depth > 32:  # deeper than any real dtype: assume the worst
        return True
    if isinstance(value, Seq):
        return any(_has_object(v, depth + 1) for v in value.items)
    if isinstance(value, Map):
        return any(_has_object(v, depth + 1) for _, v in value.items)
    if not isinstance(value, Call):
        return False
    layout = _dtype_layout(value, depth + 1)
    return layout is None or layout[1]


def _wrapper_layout(state: object) -> tuple[int, bool, bool] | None:
    """(array bytes, holds objects, has alignment padding) from a wrapper's state."""
    if not isinstance(state, Map):
        return None
    shape, dtype = state.get("shape"), _dtype_layout(state.get("dtype"))
    if not isinstance(shape, Seq) or dtype is None:
        return None
    count = 1
    for dim in shape.items:
        if not isinstance(dim, int) or dim < 0:
            return None
        count *= dim
    aligned = any(k == "numpy_array_alignment_bytes" and v is not None for k, v in state.items)
    return count * dtype[0], dtype[1], aligned


def _run_one(src: Source, ctx: PickleContext, *, joblib: bool) -> PickleJudge:
    judge = PickleJudge(ctx, src, joblib=joblib)
    PickleMachine(src, judge, ctx.budget, inline=ctx.limits.max_inline_bytes).run()
    return judge


def scan_pickle(
    open_source: Callable[[], Source],
    ctx: PickleContext,
    *,
    count: int | None = None,
    trailing: bool = True,
) -> None:
    """Walk the pickle(s) of a stream and record issues in ``ctx``.

    ``count`` fixes how many pickles the loader reads (1 for ``pickle.load``); with
    ``None`` every further pickle in the stream is walked too (several ``pickle.load``
    calls on one file), and bytes that do not form one are reported as trailing data
    (unless ``trailing`` is false: a format that stores raw data after its pickle).
    """
    src = open_source()
    n = 0
    before = len(ctx.sink.issues), len(ctx.globals_seen)
    try:
        while count is None or n < count:
            head = src.peek(1)
            if n and (not head or head[0] not in OPCODES or n >= _MAX_PICKLES):
                break
            before = len(ctx.sink.issues), len(ctx.globals_seen)
            judge = _run_one(src, ctx, joblib=False)
            n += 1
            if judge.wrapper_end is not None:
                break
    except ScanAborted as exc:
        if ctx.joblib_arrays:
            _rescan_joblib(open_source, ctx)
            return
        if n and before == (len(ctx.sink.issues), len(ctx.globals_seen)):
            ctx.add("trailing-data", Severity.LOW, f"bytes after pickle {n} do not form a pickle")
            return
        ctx.add(UNSCANNABLE, Severity.HIGH, f"pickle {n + 1}: {exc}")
        return
    if ctx.joblib_arrays:
        _rescan_joblib(open_source, ctx)
    elif trailing:
        _trailing(src, ctx, n)


def _rescan_joblib(open_source: Callable[[], Source], ctx: PickleContext) -> None:
    """Walk the stream again as ``joblib.load`` reads it; merge without double counting."""
    src = open_source()
    second = replace(ctx, sink=IssueCollector(), joblib_arrays=0)
    try:
        _run_one(src, second, joblib=True)
        _trailing(src, second, 1)
    except ScanAborted as exc:
        second.add(UNSCANNABLE, Severity.HIGH, f"joblib stream: {exc}")
    ctx.sink.absorb(second.sink.issues)


def _trailing(src: Source, ctx: PickleContext, n: int) -> None:
    left = src.remaining()
    if left is None:
        left = len(src.read_at_most(1 << 16))
    if left:
        ctx.add("trailing-data", Severity.LOW, f"{left} byte(s) after pickle {n} are never loaded")
