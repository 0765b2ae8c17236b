"""The worked example in docs/policy.md runs as written and prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_worked_example_runs(capsys):
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 4
    namespace: dict = {"__name__": "docs_policy"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "Forwarded 2 e-mails to the accountant." in out
    printed_path = re.search(r"^```text\n(.*?)^```$", text, re.DOTALL | re.MULTILINE).group(1)
    assert printed_path in out  # the path shown in the docs is the one printed
    assert "if condition (line 3) -> list (line 4) -> argument 'recipients'" in out
    assert "only trusted text" in out and "document:email:2 (untrusted)" in out
    assert namespace["outbox"] == [
        {
            "to": ["accountant@bluesparrow.com"],
            "subject": "Invoices",
            "body": namespace["outbox"][0]["body"],
        }
    ]
    assert "attacker@example.com" not in str(namespace["outbox"][0]["to"])
