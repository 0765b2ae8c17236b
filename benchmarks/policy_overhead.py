"""Interpreter overhead per tool call, in microseconds, against plain CPython.

The same plan (a loop of N tool calls) runs as CPython ``exec`` (the peer: no labels,
no checks) and through our restricted interpreter: with checks switched off, with a
read-only tool (labels and an audit event per call), and with a side-effecting tool
under a ``trusted`` data-flow rule. The per-call cost subtracts each runner's own
cost of the same loop without the call, so it is the price of one call alone; the
peer's per-iteration time includes its loop.

    .venv/bin/python -m benchmarks.policy_overhead
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.common import print_table
from trainguard.policy import Interpreter, Limits, PolicyEngine, Toolbox, tool, trusted

N = 2000
LOOP = f"for i in range({N}):\n    x = i\n"
READ = f"for i in range({N}):\n    x = lookup(i)\n"
WRITE = f"for i in range({N}):\n    record(i)\n"


@tool(side_effect=False)
def lookup(key: int) -> int:
    """Return key."""
    return key


@tool(side_effect=True)
def record(value: int) -> None:
    """Do nothing (a stand-in for a side effect)."""


def best(fn: Callable[[], object], repeat: int = 9) -> float:
    """CPU seconds of the fastest of ``repeat`` runs.

    Process CPU time, not wall time: the machine is shared, and other jobs' load would
    otherwise be counted as ours.
    """
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    tools = Toolbox([lookup, record])
    limits = Limits(max_iterations=N)

    def ours(code: str, engine: PolicyEngine) -> Callable[[], object]:
        return lambda: Interpreter(tools, engine, limits=limits).run(code)

    def cpython(code: str) -> Callable[[], object]:
        env = {"lookup": lookup.fn, "record": record.fn}
        return lambda: exec(code, dict(env))

    loop_py, loop_ours = best(cpython(LOOP)), best(ours(LOOP, PolicyEngine(enforce=False)))
    cases = [
        ("read-only call, checks off", cpython(READ), ours(READ, PolicyEngine(enforce=False))),
        ("read-only call, engine + audit", cpython(READ), ours(READ, PolicyEngine())),
        (
            "side-effect call, trusted(value) rule",
            cpython(WRITE),
            ours(WRITE, PolicyEngine({"record": trusted("value")})),
        ),
    ]
    rows = []
    for name, peer, mine in cases:
        py_us, our_us = best(peer) / N * 1e6, best(mine) / N * 1e6
        call_us = our_us - loop_ours / N * 1e6
        rows.append(
            [name, f"{py_us:.3f}", f"{our_us:.1f}", f"{call_us:.1f}", f"{our_us / py_us:.0f}x"]
        )
    rows.append(["loop iteration alone", f"{loop_py / N * 1e6:.3f}", f"{loop_ours / N * 1e6:.1f}",
                 "-", f"{loop_ours / loop_py:.0f}x"])  # fmt: skip
    print_table(
        f"Interpreter overhead per tool call ({N} calls per run, best of 9, process CPU time)",
        ["case", "CPython exec, per iteration (us)", "ours, per iteration (us)",
         "ours, the call alone (us)", "ratio per iteration"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
