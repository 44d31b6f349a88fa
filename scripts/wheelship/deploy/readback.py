"""Read the selected jobs back once they are written, alongside the cluster phase.

Converge-or-fail needs every selected job read after its update. The plan's read recorded which
page of ``jobs/list`` held which job and the token that asked for it, so only the pages that
hold a selected job are read again, several at once, while the clusters are being changed.
Without recorded pages (an older read) the whole list is read, page after page.

Nothing is trusted on the pages alone: a selected or written job that none of them shows (the
pages shifted as jobs were created or deleted) is read with ``jobs/get``, and so is a job
written after the request of the page it came back in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from wheelship.databricks import jobs
from wheelship.databricks.client import Client, in_step
from wheelship.databricks.model import Job, JobPage
from wheelship.errors import DatabricksError

#: pages read at once (the cluster phase runs at the same time)
READERS = 4


class Entry(NamedTuple):
    raw: dict[str, Any]
    asked_at: float  # when the page it came in was asked for


class ReadBack:
    """The read-back, in a thread started when the job phase has finished."""

    def __init__(
        self,
        client: Client,
        pages: Sequence[JobPage],
        selected: Collection[int],
        clock: Callable[[], float],
        step: str,
    ) -> None:
        self.client = client
        self.selected = frozenset(selected)
        self.pages = [p for p in pages if self.selected.intersection(p.job_ids)]
        self.whole = not pages  # no recorded pages: read the whole list
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
                if self.whole:
                    for page in jobs.list_pages(self.client):
                        if self.stop.is_set():
                            return
                        self.entries += [Entry(e, self.clock()) for e in page.items]
                    return
                with ThreadPoolExecutor(max_workers=READERS) as pool:
                    for got in pool.map(self._page, self.pages):
                        self.entries += got
        except BaseException as exc:  # handed to the thread that verifies
            self.error = exc

    def _page(self, page: JobPage) -> list[Entry]:
        if self.stop.is_set():
            return []
        asked_at = self.clock()
        return [Entry(e, asked_at) for e in jobs.read_page(self.client, page.token)]

    def jobs(self, written_at: Mapping[int, float]) -> list[Job] | None:
        """The selected and written jobs as they are now, or None when the read failed or was
        stopped (the caller then reads the whole target again). ``written_at``: when each
        job's update finished."""
        self.thread.join()
        if self.error is not None or self.stop.is_set():
            return None
        fresh: dict[int, dict[str, Any]] = {}
        stale: set[int] = set()
        for e in self.entries:
            job_id = int(e.raw["job_id"])
            if written_at.get(job_id, float("-inf")) >= e.asked_at:
                stale.add(job_id)  # its page was asked for before its update finished
            else:
                fresh[job_id] = e.raw
                stale.discard(job_id)  # a later page showed it after the write
        missing = [j for j in (*sorted(self.selected), *written_at) if j not in fresh]
        again_ids = sorted(set(missing) | stale)
        try:
            with in_step(self.step):
                again = self.client.map(lambda j: jobs.get(self.client, j), again_ids)
                found = [*jobs.complete(self.client, list(fresh.values())), *again]
        except DatabricksError:
            return None
        return found
