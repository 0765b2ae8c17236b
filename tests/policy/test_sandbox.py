"""The interpreter rejects escapes before anything runs, and bounds what a plan may spend."""

from __future__ import annotations

import pytest

from trainguard.policy import ExecutionLimit, Interpreter, Limits, PlanError, PlanRejected

SEND_FIRST = 'send_email(["boss@corp.com"], "ran")\n'


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("import os", "imports are not allowed"),
        ("from os import path", "imports are not allowed"),
        ("x = ().__class__", "attribute '__class__' is not allowed"),
        ('x = "a".__class__.__mro__', "attribute '__mro__' is not allowed"),
        ("x = __import__('os')", "names starting with '_'"),
        ("x = __builtins__", "names starting with '_'"),
        ("x = [].append", "allowed only to call a method"),
        ("while True:\n    pass", "while loops are not allowed"),
        ("def f():\n    return 1", "defining functions"),
        ("f = lambda: 1", "defining functions"),
        ("class A:\n    pass", "defining functions"),
        ("x = [i for i in range(3)]", "comprehensions are not supported"),
        ("for i in range(3):\n    break", "break and continue"),
        ("try:\n    x = 1\nexcept Exception:\n    pass", "Try is not allowed"),
        ("with open('x') as f:\n    pass", "With is not allowed"),
        ("global x", "Global is not allowed"),
        ("x = b'bytes'", "constants of type bytes"),
        ("x = print(*[1, 2])", "Starred is not allowed"),
        ("x = dict(**{'a': 1})", r"\*\*kwargs is not allowed"),
        ("x = 2 ** 1000", "Pow is not allowed"),
        ("for i in range(3):\n    x = 1\nelse:\n    x = 2", "for ... else"),
        ("x = (lambda: 1)()", "defining functions|only named functions"),
        ("x = = 1", "syntax error"),
        ('x = f"{1:{2}}"', "format specs must be constants"),
    ],
)
def test_escapes_are_rejected_before_anything_runs(mailbox, interp, code, needle):
    with pytest.raises(PlanRejected, match=needle):
        interp.run(SEND_FIRST + code)
    assert mailbox.sent == []  # the whole plan was refused, not run up to the bad line


@pytest.mark.parametrize(
    ("code", "needle"),
    [("x = 1\ny = 2\nimport os\n", "^line 3: imports"), ("x = 1\ny = 2 ** 3", "^line 2: Pow")],
)
def test_rejection_names_the_line(interp, code, needle):
    with pytest.raises(PlanRejected, match=needle):
        interp.run(code)


@pytest.mark.parametrize(
    "code",
    [
        'x = "{0.__class__}".format(1)',
        'x = getattr("a", "upper")',
        'x = "a".__getattribute__("upper")',
    ],
)
def test_reflection_is_unavailable(interp, code):
    with pytest.raises((PlanError, PlanRejected)):
        interp.run(code)


def test_unbounded_range_is_refused(interp):
    with pytest.raises(ExecutionLimit, match="range of 1000000000"):
        interp.run("for i in range(1000000000):\n    x = i")


def test_total_loop_iterations_are_bounded(mailbox):
    interp = Interpreter(mailbox.tools, limits=Limits(max_iterations=500))
    with pytest.raises(ExecutionLimit, match="500 loop iterations"):
        interp.run("for i in range(100):\n    for j in range(100):\n        x = i + j")


def test_steps_are_bounded(mailbox):
    interp = Interpreter(mailbox.tools, limits=Limits(max_steps=50))
    with pytest.raises(ExecutionLimit, match="50 steps"):
        interp.run("x = 0\nfor i in range(100):\n    x = x + i")


def test_wall_clock_is_bounded(mailbox):
    interp = Interpreter(mailbox.tools, limits=Limits(max_seconds=1e-9))
    with pytest.raises(ExecutionLimit, match="exceeded"):
        interp.run("x = 0\nfor i in range(1000):\n    x = x + i")


@pytest.mark.parametrize(
    "code",
    [
        'x = "a" * 10000000',
        "x = [0] * 10000000",
        'x = 10000000 * "a"',
        "x = 10000000 * [0]",
        'x = "a" * 1000\nfor i in range(20):\n    x = x + x',
        'x = ("a" * 2000).replace("a", "b" * 1000)',
        "x = 3\nfor i in range(20):\n    x = x * x",
        "y = [[0] * 10000] * 10000\nn = len(y)",
        'y = ["a" * 15000] * 2\nprint(y)',
        's = "a" * 15000\ny = [s, s]\nz = str(y)',
        'd = {}\ns = "a" * 15000\nd["a"] = s\nd["b"] = s\nz = f"{d}"',
        "x = [1]\nfor i in range(40):\n    x = [x, x]\nprint(x)",
        "x = []\nx.append(x)\nprint(x)",
    ],
)
def test_memory_bombs_are_stopped(mailbox, code):
    interp = Interpreter(mailbox.tools, limits=Limits(max_length=20_000))
    with pytest.raises(ExecutionLimit, match=r"size limit|4096 bits|nest too deeply"):
        interp.run(code)


def test_deep_nesting_is_stopped(interp):
    with pytest.raises(ExecutionLimit, match="nest too deeply"):
        interp.run("x = []\nfor i in range(5000):\n    x = [x]\nprint(x)")


def test_plan_length_is_bounded(interp):
    with pytest.raises(PlanRejected, match="exceeds"):
        interp.run("x = 1\n" * 20000)
