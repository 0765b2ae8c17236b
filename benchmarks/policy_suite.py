"""Attack suite: undefended agent vs planner/quarantine isolation vs the full policy layer.

All three agents run the same 31 user tasks (19 workspace, 12 banking), once benign and
once under each of the 12 injection tasks (193 injected runs), in one process. The
undefended agent obeys every instruction it reads in a tool output; the two defended
agents get a fully compromised quarantined model (it answers whatever the injection
wants). Metrics as in AgentDojo: utility (benign tasks solved), utility under attack,
attack success rate. For context, CaMeL reports 77% of AgentDojo tasks solved with
provable security against 84% for an undefended system (Debenedetti et al., 2025): a
different task set, with real LLMs, so only the direction is comparable.

    .venv/bin/python benchmarks/policy_suite.py
"""

from __future__ import annotations

import time

from benchmarks.common import print_table
from trainguard.policy.suite.runner import run_suite


def main() -> None:
    t0 = time.perf_counter()
    report = run_suite()
    elapsed = time.perf_counter() - t0
    naive = report.score("naive")
    rows = []
    for s in map(report.score, report.agents()):
        rows.append(
            [
                s.agent,
                f"{s.utility:.1%}",
                f"{s.utility_under_attack:.1%}",
                f"{s.attack_success_rate:.1%}",
                f"{s.successful_attacks}/{s.attacked_runs}",
                f"{s.attack_success_rate / naive.attack_success_rate:.3f}",
                f"{s.utility / naive.utility:.3f}",
            ]
        )
    print_table(
        "Attack suite (31 user tasks x 12 injection tasks, scripted agents)",
        ["agent", "utility", "utility under attack", "attack success", "attacks",
         "ASR ratio vs undefended", "utility ratio vs undefended"],
        rows,
    )  # fmt: skip
    blocked = ", ".join(o.user_task for o in report.failed_benign("policy")) or "none"
    print(f"\nbenign tasks the policy layer stops: {blocked}")
    print(f"{len(report.outcomes)} runs in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
