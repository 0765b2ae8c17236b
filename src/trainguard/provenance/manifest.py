"""Manifests: a SHA-256 per item of a data set and a Merkle root over them all.

An item is a file of a folder (``kind="files"``) or a record of a CSV, JSONL,
Parquet or NPZ file (``kind="records"``). The Merkle tree's leaves are the entries
sorted by ``(digest, key)``, each leaf ``digest || key``; sorting by content lets a
proof show that a record is *absent* (two adjacent leaves bracket its digest), see
:mod:`trainguard.provenance.proofs`. The manifest lists its entries in data order
(paths sorted, records in file order), which is what :func:`diff_manifests` uses to
say exactly which item was added, removed or changed.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from trainguard import __version__
from trainguard.core.atomic import atomic_write_bytes
from trainguard.core.errors import DataError, IntegrityError
from trainguard.core.findings import Finding, Severity
from trainguard.core.progress import progress_bar
from trainguard.provenance.hashing import hash_file, hash_files, scan_files, sha256_bytes
from trainguard.provenance.merkle import leaf_hash, merkle_root
from trainguard.provenance.records import RecordFormat, iter_records, record_format

SCHEMA = "trainguard.manifest/v1"
ManifestKind = Literal["files", "records"]
ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Entry:
    """One item: its key (relative path or record id), SHA-256 and size in bytes."""

    key: str
    sha256: str
    size: int

    def leaf(self) -> bytes:
        """The Merkle leaf hash of this entry: ``leaf_hash(digest || key)``."""
        return leaf_hash(bytes.fromhex(self.sha256) + self.key.encode("utf-8"))


def leaf_order(entries: list[Entry]) -> list[Entry]:
    """Entries in Merkle leaf order: sorted by digest, then key."""
    return sorted(entries, key=lambda e: (e.sha256, e.key))


def compute_root(entries: list[Entry]) -> str:
    """Hex Merkle root over ``entries`` (in leaf order)."""
    return merkle_root([e.leaf() for e in leaf_order(entries)]).hex()


@dataclass
class Manifest:
    """The hashes of a data set's items, their Merkle root and how they were made."""

    kind: ManifestKind
    name: str
    entries: list[Entry]
    root: str
    format: str = "folder"
    file_sha256: str | None = None
    id_column: str | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    tool: str = f"trainguard {__version__}"

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, key: str) -> Entry:
        """The entry called ``key``; :class:`DataError` if there is none."""
        for e in self.entries:
            if e.key == key:
                return e
        raise DataError(f"manifest {self.name}: no item {key!r}")

    def check_root(self) -> None:
        """Raise :class:`IntegrityError` unless the stored root matches the entries."""
        actual = compute_root(self.entries)
        if actual != self.root:
            raise IntegrityError(
                f"manifest {self.name}: its entries hash to root {actual[:16]}..., "
                f"but it states {self.root[:16]}... (the manifest was edited)"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the file format)."""
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "format": self.format,
            "name": self.name,
            "algorithm": "sha256",
            "leaf": "SHA-256(0x00 || digest || utf8(key)), leaves sorted by (digest, key)",
            "root": self.root,
            "count": len(self.entries),
            "file_sha256": self.file_sha256,
            "id_column": self.id_column,
            "created": self.created,
            "tool": self.tool,
            "entries": [{"key": e.key, "sha256": e.sha256, "size": e.size} for e in self.entries],
        }

    def to_bytes(self) -> bytes:
        """The manifest file's bytes (UTF-8 JSON, stable key order)."""
        return (json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Write the manifest atomically and return the path."""
        return atomic_write_bytes(path, self.to_bytes())

    def data_beside(self, manifest_file: str | Path) -> Path:
        """Where the data lies by default: beside the manifest file, under the manifest's name."""
        return Path(manifest_file).parent / self.name

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "manifest") -> Manifest:
        """Read a manifest dict; :class:`DataError` if it is not one."""
        if d.get("schema") != SCHEMA:
            raise DataError(f"{source}: not a trainguard manifest (schema {d.get('schema')!r})")
        try:
            entries = [Entry(str(e["key"]), str(e["sha256"]), int(e["size"])) for e in d["entries"]]
            return cls(
                kind=d["kind"],
                name=str(d["name"]),
                entries=entries,
                root=str(d["root"]),
                format=str(d["format"]),
                file_sha256=d.get("file_sha256"),
                id_column=d.get("id_column"),
                created=str(d["created"]),
                tool=str(d["tool"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: malformed manifest ({exc!r})") from None

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read a manifest file written by :meth:`save`."""
        p = Path(path)
        try:
            d = json.loads(p.read_bytes())
        except FileNotFoundError:
            raise DataError(f"{p}: no such manifest file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{p}: not a JSON manifest ({exc})") from None
        if not isinstance(d, dict):
            raise DataError(f"{p}: not a trainguard manifest")
        return cls.from_dict(d, source=str(p))


def _folder_manifest(root: Path, *, workers: int | None) -> Manifest:
    scanned = scan_files(root)
    files = [f for f, _ in scanned]
    sizes = [n for _, n in scanned]
    digests = hash_files(files, sizes=sizes, workers=workers, description=f"hashing {root.name}")
    skip = len(os.path.join(os.fspath(root), ""))  # scan_files paths all start with root/
    entries = [
        Entry(os.fspath(f)[skip:].replace(os.sep, "/"), d, n)
        for f, d, n in zip(files, digests, sizes, strict=True)
    ]
    return Manifest(
        kind="files", name=root.name, entries=entries, root=compute_root(entries), format="folder"
    )


def build_manifest(
    path: str | Path,
    *,
    records: bool | None = None,
    fmt: RecordFormat | None = None,
    id_column: str | None = None,
    workers: int | None = None,
) -> Manifest:
    """Hash every item of a data set and its Merkle root.

    Parameters
    ----------
    path
        A folder (one entry per file, keys are POSIX paths relative to it) or a data
        file (one entry per record, or a single entry with ``records=False``).
    records
        For a file: hash its records (default) or the file as one item.
    fmt
        Record format (``csv``, ``jsonl``, ``parquet``, ``npz``); default from the suffix.
    id_column
        Column whose value names each record (default: the 0-based row number).
    workers
        Threads for hashing a folder (default: twice the cores).
    """
    p = Path(path)
    if p.is_dir():
        return _folder_manifest(p, workers=workers)
    if not p.is_file():
        raise DataError(f"{p}: no such file or folder")
    whole = hash_file(p)
    if records is False:
        single = [Entry(p.name, whole, p.stat().st_size)]
        return Manifest(
            kind="files", name=p.name, entries=single, root=compute_root(single), format="file"
        )
    fmt = fmt or record_format(p)
    entries: list[Entry] = []
    with progress_bar(f"hashing records of {p.name}", total=None) as bar:
        for k, b in iter_records(p, fmt, id_column=id_column):
            entries.append(Entry(k, sha256_bytes(b), len(b)))
            if len(entries) % 10_000 == 0:
                bar.advance(10_000)
    return Manifest(
        kind="records",
        name=p.name,
        entries=entries,
        root=compute_root(entries),
        format=fmt,
        file_sha256=whole,
        id_column=id_column,
    )


@dataclass(frozen=True)
class Change:
    """One item that differs: ``added``, ``removed`` or ``changed``, with both digests."""

    kind: ChangeKind
    key: str
    old_sha256: str | None = None
    new_sha256: str | None = None
    new_key: str | None = None

    def describe(self, item: str) -> str:
        """One line such as ``changed row 17`` or ``added images/cat.png``."""
        where = self.key if self.new_key in (None, self.key) else f"{self.key} (now {self.new_key})"
        return f"{self.kind} {item} {where}"


@dataclass
class ManifestDiff:
    """Every item added, removed or changed between two manifests of one data set."""

    name: str
    kind: ManifestKind
    changes: list[Change]
    old_root: str
    new_root: str
    bytes_changed: bool

    @property
    def ok(self) -> bool:
        """True when nothing differs, not even a byte of the file."""
        return not self.changes and not self.bytes_changed and self.old_root == self.new_root

    def by_kind(self, kind: ChangeKind) -> list[Change]:
        """The changes of one kind."""
        return [c for c in self.changes if c.kind == kind]

    @property
    def item(self) -> str:
        """What an entry is called in messages: ``file`` or ``row``/``record``."""
        return "file" if self.kind == "files" else "record"

    def to_findings(self, stage: str) -> list[Finding]:
        """One finding for the data set, with a row per differing item."""
        counts: dict[str, float | None] = {
            k: float(len(self.by_kind(k))) for k in ("added", "removed", "changed")
        }
        if self.ok:
            message = f"{self.name}: every item matches the manifest (root {self.new_root[:16]}...)"
        elif not self.changes:
            message = (
                f"{self.name}: the file's bytes changed but every record is the same (formatting)"
            )
        else:
            shown = "; ".join(c.describe(self.item) for c in self.changes[:5])
            more = f" and {len(self.changes) - 5} more" if len(self.changes) > 5 else ""
            message = f"{self.name}: {shown}{more}"
        return [
            Finding(
                stage=stage,
                check_id="manifest-verify",
                title=f"Data set {self.name} matches its manifest",
                severity=Severity.HIGH,
                passed=self.ok,
                metrics=counts,
                message=message,
                location=self.changes[0].key if self.changes else None,
                table=[
                    {"change": c.kind, "item": c.key, "old": c.old_sha256, "new": c.new_sha256}
                    for c in self.changes[:200]
                ],
            )
        ]


def _keyed_changes(old: list[Entry], new: list[Entry]) -> list[Change]:
    a = {e.key: e.sha256 for e in old}
    b = {e.key: e.sha256 for e in new}
    changes = [Change("removed", k, old_sha256=a[k]) for k in a if k not in b]
    changes += [Change("added", k, new_sha256=b[k]) for k in b if k not in a]
    changes += [Change("changed", k, a[k], b[k]) for k in a if k in b and a[k] != b[k]]
    return changes


def _sequence_changes(old: list[Entry], new: list[Entry]) -> list[Change]:
    """Align two row-numbered record sequences by digest.

    An inserted row is reported as one addition, not as every later row changed.
    """
    a = [e.sha256 for e in old]
    b = [e.sha256 for e in new]
    changes: list[Change] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for d in range(paired):
            o, n = old[i1 + d], new[j1 + d]
            changes.append(Change("changed", o.key, o.sha256, n.sha256, new_key=n.key))
        changes += [Change("removed", e.key, old_sha256=e.sha256) for e in old[i1 + paired : i2]]
        changes += [Change("added", e.key, new_sha256=e.sha256) for e in new[j1 + paired : j2]]
    return changes


def diff_manifests(old: Manifest, new: Manifest) -> ManifestDiff:
    """Every item added, removed or changed from ``old`` to ``new``.

    Files and records with an id column are matched by key; row-numbered records are
    aligned as sequences (an inserted row shifts the later row numbers, which is not
    a change of those rows).
    """
    if old.kind != new.kind:
        raise DataError(f"cannot compare a {old.kind} manifest with a {new.kind} manifest")
    by_sequence = old.kind == "records" and old.id_column is None
    changes = (_sequence_changes if by_sequence else _keyed_changes)(old.entries, new.entries)
    bytes_changed = old.file_sha256 != new.file_sha256
    return ManifestDiff(
        name=old.name,
        kind=old.kind,
        changes=changes,
        old_root=old.root,
        new_root=new.root,
        bytes_changed=bytes_changed,
    )


def verify_manifest(
    manifest: Manifest, path: str | Path, *, workers: int | None = None
) -> ManifestDiff:
    """Re-hash the data at ``path`` and compare it with ``manifest``, item by item.

    Raises
    ------
    IntegrityError
        If the manifest itself was edited (its entries no longer hash to its root).
    """
    manifest.check_root()
    fresh = build_manifest(
        path,
        records=manifest.kind == "records",
        fmt=manifest.format if manifest.kind == "records" else None,  # type: ignore[arg-type]
        id_column=manifest.id_column,
        workers=workers,
    )
    if manifest.kind == "files" and manifest.format == "file":
        fresh = Manifest(
            kind="files",
            name=manifest.name,
            entries=[Entry(manifest.entries[0].key, e.sha256, e.size) for e in fresh.entries],
            root="",
            format="file",
        )
        fresh.root = compute_root(fresh.entries)
    return diff_manifests(manifest, fresh)
