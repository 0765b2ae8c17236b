"""Group commit: one thread writes queued audit records in batches, one durable transaction each.

A request hands its records to :meth:`AuditWriter.submit` (or, on an event loop,
:meth:`AuditWriter.submit_async`) and waits on the returned future; the future
resolves only after the transaction holding the records has committed and been
synced to disk, so the service acknowledges a decision only once it is on disk.
Under load many requests
share one commit (one fsync), which is what keeps durable commits cheap (the idea
of group commit in database logs; Gray and Reuter, *Transaction Processing*, 1993,
section 9.4.7).

The futures of an event loop are settled by one callback per commit on that loop,
not one cross-thread wake-up per request: after a commit the writer thread needs
the interpreter lock only for that hand-over.

The group is gathered once the writer holds the database's writer turn, not before
waiting for it: with several processes taking turns on one SQLite file, the requests
that arrive while another process commits go into this process's next commit
instead of the one after. On SQLite the turn ends before the log is synced (see
:mod:`~trainguard.guard.service.audit.sqlite`), so the processes' disk flushes
overlap instead of queueing one behind the other. SQLite's log checkpoints (copying
the write-ahead log into the database, two syncs) run every ``checkpoint_every``
records in a thread of their own, mostly beside the writers, instead of inside
whichever commit passes 1,000 log pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from trainguard.guard.service.audit.record import AuditRecord
from trainguard.guard.service.audit.store import AuditStore

_Waiter = Future[None] | asyncio.Future[None]
_Job = tuple[list[AuditRecord], _Waiter]


def _settle(waiters: Sequence[_Waiter], exc: BaseException | None) -> None:
    """Resolve ``waiters`` (on the thread or loop that owns them): done, or failed with ``exc``."""
    for w in waiters:
        if w.done():  # an asyncio waiter whose request was cancelled meanwhile
            continue
        if exc is None:
            w.set_result(None)
        else:
            w.set_exception(exc)


class _Checkpointer:
    """A thread copying SQLite's write-ahead log into the database when asked, off the commit path.

    A passive checkpoint first copies the log without the writer turn, while writers
    keep committing; a second one, in a turn of its own, copies only what they
    appended meanwhile, so the log is fully copied and starts over at the next
    commit. (Passive checkpoints beside continuous commits alone never catch up with
    the log's end, and the log then grows without bound.) A failed checkpoint loses
    nothing (the log keeps the commits); the next one retries.
    """

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self._wanted = threading.Event()
        self._pending = self._stopping = False
        self._thread = threading.Thread(target=self._run, name="audit-checkpointer", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Run a checkpoint soon (requests made while one runs lead to one more)."""
        self._pending = True
        self._wanted.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wanted.wait()
            self._wanted.clear()
            if self._pending:
                self._pending = False
                with contextlib.suppress(Exception):
                    self.store.checkpoint()
                    with self.store.writer_turn():
                        self.store.checkpoint()

    def close(self, timeout: float) -> None:
        """Finish a requested checkpoint, then stop the thread."""
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout)


class AuditWriter:
    """A background thread committing audit records in batches of up to ``max_batch``.

    Parameters
    ----------
    store
        Where the records go; the thread uses a connection of its own.
    max_batch
        Most records in one transaction.
    checkpoint_every
        Records this writer commits between two checkpoints of SQLite's write-ahead
        log, run by a thread of their own instead of inside a commit.
    """

    def __init__(
        self, store: AuditStore, *, max_batch: int = 256, checkpoint_every: int = 4096
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.checkpoint_every = checkpoint_every
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._checkpointer = _Checkpointer(store)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[AuditRecord]) -> Future[None]:
        """Queue ``records``; the future resolves when they are committed (or fails with why not)."""
        fut: Future[None] = Future()
        self._put(list(records), fut)
        return fut

    def submit_async(self, records: Sequence[AuditRecord]) -> asyncio.Future[None]:
        """As :meth:`submit`, for a caller on the running event loop (settled on that loop)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(list(records), fut)
        return fut

    def _put(self, records: list[AuditRecord], fut: _Waiter) -> None:
        if not self._thread.is_alive():
            _settle([fut], RuntimeError("the audit writer has stopped"))
        else:
            self._queue.put((records, fut))

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # if not, SQLite keeps checkpointing in commits
            self.store.manual_checkpoints()
        since_checkpoint = 0
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            jobs: list[_Job] = [first]
            try:
                # Wait for other processes' writers first, then take everything queued
                # meanwhile: requests that arrive during the wait share this commit.
                with self.store.writer_turn():
                    stop = self._drain(jobs)
                    outcome = self._write(jobs)
                # Leaving the turn synced the log (after letting other writers in).
            except Exception as failed:  # the turn failed: its lock file, or syncing the log
                outcome = [(jobs, failed)]
            for group, error in outcome:  # only now: acknowledged once durable
                self._done(group, error)
            since_checkpoint += sum(len(recs) for recs, _ in jobs)
            if since_checkpoint >= self.checkpoint_every:
                since_checkpoint = 0
                self._checkpointer.request()

    def _drain(self, jobs: list[_Job]) -> bool:
        """Add queued jobs to ``jobs`` up to ``max_batch`` records; True when told to stop."""
        n = sum(len(recs) for recs, _ in jobs)
        while n < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return False
            if nxt is None:
                return True
            jobs.append(nxt)
            n += len(nxt[0])
        return False

    def _write(self, jobs: list[_Job]) -> list[tuple[list[_Job], BaseException | None]]:
        """Commit the jobs' records together: ``[(jobs, None)]``, or each alone if that fails."""
        try:
            self.store.write([r for recs, _ in jobs for r in recs])
        except Exception as exc:
            if len(jobs) == 1:
                return [(jobs, exc)]
            # one bad request must not fail the others of its group
            return [out for job in jobs for out in self._write([job])]
        return [(jobs, None)]

    @staticmethod
    def _done(jobs: list[_Job], exc: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Waiter]] = {}
        for _, w in jobs:
            if isinstance(w, asyncio.Future):
                by_loop.setdefault(w.get_loop(), []).append(w)
            else:
                _settle([w], exc)
        for loop, waiters in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, waiters, exc)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        self._checkpointer.close(timeout)
