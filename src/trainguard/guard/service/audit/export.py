"""Export audit records as JSON Lines or CSV (one row per decision)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO

from trainguard.guard.service.audit.record import AuditRecord

CSV_FIELDS = list(AuditRecord.model_fields)


def write_jsonl(records: Iterable[AuditRecord], out: IO[str]) -> int:
    """Write one JSON object per line; return the number of records."""
    n = 0
    for r in records:
        out.write(r.model_dump_json() + "\n")
        n += 1
    return n


def write_csv(records: Iterable[AuditRecord], out: IO[str]) -> int:
    """Write a CSV with a header; list and dict fields are JSON in their cell."""
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    n = 0
    for r in records:
        row = r.model_dump(mode="json")
        w.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()})
        n += 1
    return n
