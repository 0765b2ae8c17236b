"""Group commit: one thread writes queued audit records in batches, one durable transaction each.

A request hands its records to :meth:`AuditWriter.submit` and waits on the returned
future; the future resolves only after the transaction holding the records has
committed, so the service acknowledges a decision only once it is on disk. Under
load many requests share one commit (one fsync), which is what keeps durable
commits cheap (the idea of group commit in database logs; Gray and Reuter,
*Transaction Processing*, 1993, section 9.4.7).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from trainguard.guard.service.audit.record import AuditRecord
from trainguard.guard.service.audit.store import AuditStore

_Job = tuple[list[AuditRecord], "Future[None]"]


class AuditWriter:
    """A background thread committing audit records in batches of up to ``max_batch``."""

    def __init__(self, store: AuditStore, *, max_batch: int = 256) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[AuditRecord]) -> Future[None]:
        """Queue ``records``; the future resolves when they are committed (or fails with why not)."""
        fut: Future[None] = Future()
        if not self._thread.is_alive():
            fut.set_exception(RuntimeError("the audit writer has stopped"))
            return fut
        self._queue.put((list(records), fut))
        return fut

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, n = [job], len(job[0])
            stop = False
            while n < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                n += len(nxt[0])
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            self.store.write([r for recs, _ in jobs for r in recs])
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0][1].set_exception(exc)
                return
            for job in jobs:  # one bad request must not fail the others of its group
                self._commit([job])
        else:
            for _, fut in jobs:
                fut.set_result(None)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
