"""``trainguard policy``: check a tool-policy file, run a plan under policy, run the attack suite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trainguard.cli.common import console, emit_json, finish_run, state
from trainguard.core.errors import EXIT_FAILED, EXIT_OK, ConfigError, DataError

if TYPE_CHECKING:
    from trainguard.policy.suite.tasks import Suite

app = typer.Typer(
    name="policy",
    help="Data-flow policies for LLM agents (CaMeL-style): check, run a plan, attack suite.",
)


def _suite(name: str) -> Suite:
    from trainguard.policy.suite.runner import SUITES

    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; expected one of {', '.join(SUITES)}")
    return SUITES[name]


@app.command("check")
def check_command(
    ctx: typer.Context,
    policy_file: Annotated[Path, typer.Argument(help="Policy YAML file.")],
    suite: Annotated[
        str | None, typer.Option(help="Also check tool and argument names against a suite.")
    ] = None,
) -> int:
    """Parse a policy file and print one line per tool; exit 2 when it is malformed."""
    from trainguard.policy import PolicyEngine, load_policies

    policies = load_policies(policy_file)
    if suite is not None:
        s = _suite(suite)
        PolicyEngine(policies).validate(s.tools(s.make_env(None)))
    st = state(ctx)
    if st.json:
        emit_json({name: str(p) for name, p in policies.items()})
    elif not st.quiet:
        con = console()
        for name, p in policies.items():
            con.print(f"{name}: {p}", markup=False)
    return EXIT_OK


@app.command("run")
def run_command(
    ctx: typer.Context,
    plan: Annotated[Path, typer.Argument(help="Plan file (the restricted Python subset).")],
    suite: Annotated[
        str, typer.Option(help="Simulated environment: workspace or banking.")
    ] = "workspace",
    inject: Annotated[
        str | None, typer.Option(help="Put this injection task's payload in every vector.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML instead of the suite's own policies.")
    ] = None,
) -> int:
    """Run a plan in a simulated environment under policy; exit 1 when a call is denied."""
    from trainguard.policy import FlowViolation, Interpreter, load_policies
    from trainguard.policy.suite.agents import policy_parts
    from trainguard.policy.suite.tasks import injection_payload

    try:
        code = plan.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{plan}: cannot read the plan ({exc.__class__.__name__})") from None
    s = _suite(suite)
    payload: dict[str, str] = {}
    if inject is not None:
        goals = {t.id: t.goal for t in s.injection_tasks}
        if inject not in goals:
            raise ConfigError(
                f"unknown injection task {inject!r}; expected one of {', '.join(goals)}"
            )
        payload = dict.fromkeys(s.vectors, injection_payload(goals[inject]))
    env = s.make_env(payload)
    tools, engine, quarantined = policy_parts(
        s, env, policies=load_policies(policy) if policy else None
    )
    interpreter = Interpreter(tools, engine, helpers={"extract": quarantined.helper})
    denied: FlowViolation | None = None
    output = ""
    try:
        output = interpreter.run(code).text
    except FlowViolation as exc:
        denied = exc
    st = state(ctx)
    if st.json:
        emit_json(
            {
                "output": output,
                "denied": None if denied is None else {"tool": denied.tool, "path": denied.path},
                "events": [e.model_dump(mode="json") for e in engine.audit.events],
            }
        )
    elif not st.quiet:
        con = console()
        if output:
            con.print(output, markup=False)
        for e in engine.audit.events:
            con.print(f"  {e.outcome:8} {e.tool} ({e.rule})", markup=False)
        if denied is not None:
            con.print(f"denied: {denied}", markup=False)
    return EXIT_OK if denied is None else EXIT_FAILED


@app.command("suite")
def suite_command(
    ctx: typer.Context,
    suite: Annotated[
        list[str] | None, typer.Option(help="Suites to run (repeat); default: all.")
    ] = None,
    runs: Annotated[
        Path | None, typer.Option(help="Also write a run directory with findings and report.")
    ] = None,
) -> int:
    """Run the attack suite: undefended agent, isolation only, and the policy layer.

    Exit 1 when an injection succeeds through the policy layer or its utility on benign
    tasks is below 90%.
    """
    from trainguard.core.run import RunDir
    from trainguard.policy.suite.runner import SUITES, policy_suite_stage, run_suite

    names = suite or list(SUITES)
    report = run_suite(names)
    if runs is not None:
        run = RunDir.create("policy-suite", runs, config={"suites": names})
        policy_suite_stage(run, report)
        return finish_run(ctx, run)
    st = state(ctx)
    header = ["agent", "utility", "utility under attack", "attack success rate", "attacks", "tasks"]
    if st.json:
        emit_json([dict(zip(header, row, strict=True)) for row in report.table()])
    elif not st.quiet:
        con = console()
        con.print(" | ".join(header))
        for row in report.table():
            cells = [f"{v:.1%}" if isinstance(v, float) else str(v) for v in row]
            con.print(" | ".join(cells), markup=False)
    passed = all(f.passed is not False for f in report.to_findings("policy"))
    return EXIT_OK if passed else EXIT_FAILED
