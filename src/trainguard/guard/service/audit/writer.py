"""Group commit: one thread writes queued audit records in batches, one durable transaction each.

A request's records are acknowledged only after the transaction holding them has
committed, so the service answers a decision only once it is on disk. Under load
many requests share one commit (one fsync), which is what keeps durable commits
cheap (group commit; Gray and Reuter, *Transaction Processing*, 1993, section 9.4.7).

Requests are handed over in groups (:meth:`AuditWriter.submit_group`): the service's
event loop gathers the requests of one loop iteration into one group, so crossing to
the writer thread and back costs one hand-over per group rather than per request.
If a batch fails (a broken request), its requests are retried one by one, so one bad
request fails alone.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from trainguard.guard.service.audit.record import AuditRecord
from trainguard.guard.service.audit.store import AuditStore

Outcomes = list[BaseException | None]
"""Per request of a group: None when committed, else why not."""
_Group = tuple[list[list[AuditRecord]], Callable[[Outcomes], None]]


class AuditWriter:
    """A background thread committing audit records in batches of up to ``max_batch`` records."""

    def __init__(self, store: AuditStore, *, max_batch: int = 256) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit_group(
        self, requests: list[list[AuditRecord]], done: Callable[[Outcomes], None]
    ) -> None:
        """Queue several requests' records; ``done`` gets their outcomes from the writer thread."""
        if not self._thread.is_alive():
            done([RuntimeError("the audit writer has stopped")] * len(requests))
            return
        self._queue.put((requests, done))

    def submit(self, records: Sequence[AuditRecord]) -> Future[None]:
        """Queue one request's records; the future resolves when they are committed."""
        fut: Future[None] = Future()

        def done(outcomes: Outcomes) -> None:
            if outcomes[0] is None:
                fut.set_result(None)
            else:
                fut.set_exception(outcomes[0])

        self.submit_group([list(records)], done)
        return fut

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            group = self._queue.get()
            if group is None:
                return
            groups = [group]
            n = sum(len(r) for r in group[0])
            stop = False
            while n < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                groups.append(nxt)
                n += sum(len(r) for r in nxt[0])
            self._commit(groups)
            if stop:
                return

    def _commit(self, groups: list[_Group]) -> None:
        requests = [recs for reqs, _ in groups for recs in reqs]
        try:
            self.store.write([r for recs in requests for r in recs])
            outcomes: Outcomes = [None] * len(requests)
        except Exception as exc:
            outcomes = [exc] if len(requests) == 1 else [self._one(recs) for recs in requests]
        i = 0
        for reqs, done in groups:
            done(outcomes[i : i + len(reqs)])
            i += len(reqs)

    def _one(self, records: list[AuditRecord]) -> BaseException | None:
        try:
            self.store.write(records)
        except Exception as exc:
            return exc
        return None

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
