"""Read the jobs back while the deploy is still running, without trusting a stale page.

Converge-or-fail needs every job read after its update. Reading the 100-job pages again only
once the whole deploy is done costs their round trips one after another at the end; here the
pages are read behind the job phase instead: page *k* is asked for once the updates of the
pages up to *k* have finished, and then alongside the cluster phase.

Nothing is trusted on the order alone: each page's request time is kept, and a job that was
written after the request of the page it came back in (the pages shifted, a job was deleted or
created meanwhile, or its update was still in flight) is read again with ``jobs/get``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

from wheelship.databricks import jobs
from wheelship.databricks.client import Client, in_step
from wheelship.databricks.model import Job
from wheelship.errors import DatabricksError


@dataclass
class Gate:
    """What the job phase has done so far: the futures of its updates, page by page."""

    pages: list[list[Future[Any]]] = field(default_factory=list)
    finished: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    def add_page(self, futures: list[Future[Any]]) -> None:
        with self.cond:
            self.pages.append(futures)
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def wait_for(self, page: int, stop: threading.Event) -> None:
        """Block until the updates of pages ``0..page`` are done (all of them once the phase
        finished reading), or ``stop`` is set."""
        with self.cond:
            while not stop.is_set() and not self.finished and len(self.pages) <= page:
                self.cond.wait(0.1)
            upto = None if self.finished else page + 1
            futures = [f for p in self.pages[:upto] for f in p]
        while futures and not stop.is_set():
            _done, pending = wait(futures, timeout=0.1)
            futures = list(pending)
        if self.finished:
            with self.cond:  # jobs the phase submitted after its last page (not listed)
                rest = [f for p in self.pages for f in p if not f.done()]
            while rest and not stop.is_set():
                _done, pending = wait(rest, timeout=0.1)
                rest = list(pending)


@dataclass(frozen=True)
class Entry:
    raw: dict[str, Any]
    asked_at: float  # when the page it came in was asked for


class ReadBack:
    """The jobs pages, read in a thread behind a :class:`Gate`."""

    def __init__(self, client: Client, gate: Gate, clock: Callable[[], float], step: str) -> None:
        self.client = client
        self.gate = gate
        self.clock = clock
        self.step = step
        self.entries: list[Entry] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="wheelship-readback", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    def _run(self) -> None:
        try:
            with in_step(self.step):
                pages = jobs.list_pages(self.client)
                k = 0
                while True:
                    self.gate.wait_for(k, self.stop)
                    if self.stop.is_set():
                        return
                    asked_at = self.clock()
                    page = next(pages, None)
                    if page is None:
                        return
                    self.entries += [Entry(e, asked_at) for e in page]
                    k += 1
        except BaseException as exc:  # handed to the thread that verifies
            self.error = exc

    def jobs(self, written_at: Mapping[int, float]) -> list[Job] | None:
        """Every job as it is after the deploy, or None when the read failed (the caller reads
        the whole target again). ``written_at``: when each job's update finished."""
        self.thread.join()
        if self.error is not None or self.stop.is_set():
            return None
        fresh: list[dict[str, Any]] = []
        stale: list[int] = []
        for e in self.entries:
            job_id = int(e.raw["job_id"])
            if written_at.get(job_id, float("-inf")) >= e.asked_at:
                stale.append(job_id)  # its page was asked for before its update finished
            else:
                fresh.append(e.raw)
        listed = {int(e.raw["job_id"]) for e in self.entries}
        # written but in none of the pages (they shifted under a deletion): read each one
        stale += [j for j in written_at if j not in listed]
        try:
            with in_step(self.step):
                again = self.client.map(lambda j: jobs.get(self.client, j), stale)
                found = {j.job_id: j for j in [*jobs.complete(self.client, fresh), *again]}
        except DatabricksError:
            return None
        order = [*(int(e.raw["job_id"]) for e in self.entries), *written_at]
        return list({j: found[j] for j in order if j in found}.values())
