"""Label propagation through data flow and control flow, and the subset's semantics."""

from __future__ import annotations

import pytest

from trainguard.policy import (
    FlowViolation,
    Interpreter,
    PlanError,
    PolicyEngine,
    deep_label,
    unwrap,
)


def sources(result, name):
    return {str(s).split(" ")[0] for s in deep_label(result.variables[name]).sources}


def test_plain_python_semantics_match_cpython(interp):
    code = """
xs = [3, 1, 2]
total = 0
for x in xs:
    total += x * 2
pairs = []
for i, x in enumerate(sorted(xs)):
    pairs.append(f"{i}:{x:03d}")
d = {"a": 1, "b": [1, 2, 3][1:]}
d["c"] = d.get("a") + len(d["b"])
word = "Hello World".lower().replace("world", "there").split(" ")
flag = (total > 5 and "yes") or "no"
pick = "big" if total > 100 else "small"
"""
    expected: dict = {}
    exec(code, {}, expected)  # the same plan in CPython, for reference
    result = interp.run(code)
    for name in ("total", "pairs", "d", "word", "flag", "pick"):
        assert unwrap(result.variables[name]) == expected[name], name


def test_data_flow_taints_every_derived_value(interp):
    result = interp.run(
        """
emails = get_emails()
evil = emails[1]["body"]
words = evil.split(" ")
last = words[-1]
msg = f"to {last}"
n = len(evil) + 1
kept = emails[0]["sender"]
const = "plain"
"""
    )
    for name in ("evil", "words", "last", "msg", "n"):
        assert "document:email:2" in sources(result, name), name
    assert sources(result, "const") == {"user"}
    # indexing joins the list's label: the list holds the untrusted e-mail too
    assert "document:email:2" in sources(result, "kept")


def test_per_element_labels_survive_containers(interp):
    result = interp.run(
        """
first = get_emails()[0]
pair = [first["body"], "note"]
note = pair[1]
"""
    )
    assert sources(result, "note") == {"user"}


def test_branch_on_untrusted_data_taints_values_assigned_inside(interp):
    result = interp.run(
        """
emails = get_emails()
flag = "no"
if "invoices" in emails[1]["body"]:
    flag = "yes"
label = "fixed"
"""
    )
    assert unwrap(result.variables["flag"]) == "yes"
    assert "document:email:2" in sources(result, "flag")
    assert sources(result, "label") == {"user"}


def test_else_branch_and_conditional_expression_are_tainted_too(interp):
    result = interp.run(
        """
body = get_emails()[1]["body"]
if "nothing" in body:
    a = 1
else:
    a = 2
b = "x" if "invoices" in body else "y"
c = "invoices" in body and "z"
"""
    )
    for name in ("a", "b", "c"):
        assert "document:email:2" in sources(result, name), name


def test_loop_over_untrusted_list_taints_the_body_and_appended_lists(interp):
    result = interp.run(
        """
seen = []
count = 0
for e in get_emails():
    count = count + 1
    seen.append("x")
size = len(seen)
"""
    )
    for name in ("count", "seen", "size"):
        assert "document:email:2" in sources(result, name), name


def test_list_mutated_under_untrusted_condition_is_tainted(interp):
    result = interp.run(
        """
out = []
body = get_emails()[1]["body"]
if "attacker" in body:
    out.append(1)
n = len(out)
"""
    )
    assert "document:email:2" in sources(result, "n")


def test_trusted_branch_does_not_taint(interp):
    result = interp.run(
        """
x = 1
if x > 0:
    y = "a"
for i in range(3):
    z = i
"""
    )
    assert sources(result, "y") == {"user"}
    assert sources(result, "z") == {"user"}


def test_call_inside_untrusted_branch_is_denied_even_with_constant_arguments(mailbox, interp):
    with pytest.raises(FlowViolation) as err:
        interp.run(
            """
body = get_emails()[1]["body"]
if "invoices" in body:
    send_email(["boss@corp.com"], "hello")
"""
        )
    assert err.value.tool == "send_email"
    assert any("if condition" in step for step in err.value.path)
    assert mailbox.sent == []


def test_same_call_outside_the_branch_is_allowed(mailbox, interp):
    interp.run('send_email(["boss@corp.com"], "hello")')
    assert mailbox.sent == [(["boss@corp.com"], "hello")]


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("x = y", "unknown name 'y'"),
        ("x = [1][5]", "cannot index"),
        ('x = {"a": 1}["b"]', "key 'b' not found"),
        ("x = 1 / 0", "division by zero"),
        ("x = nosuch(1)", "unknown function 'nosuch'"),
        ('x = "a".format()', "method 'format' is not available"),
        ("a, b = [1, 2, 3]", "cannot unpack"),
        ("send_email()", "bad arguments for tool send_email"),
    ],
)
def test_runtime_errors_are_plan_errors_with_the_line(interp, code, needle):
    with pytest.raises(PlanError, match=needle) as err:
        interp.run(code)
    assert str(err.value).startswith("line 1:")


def test_default_engine_denies_side_effects_without_policy(mailbox):
    with pytest.raises(FlowViolation, match=r"default-deny|no policy"):
        Interpreter(mailbox.tools).run("delete_all()")
    assert len(mailbox.inbox) == 3


def test_print_collects_output(interp):
    assert interp.run('print("a", 1)\nprint("b")').text == "a 1\nb"


def test_permissive_engine_runs_everything(mailbox):
    Interpreter(mailbox.tools, PolicyEngine(enforce=False)).run("delete_all()")
    assert mailbox.inbox == []
