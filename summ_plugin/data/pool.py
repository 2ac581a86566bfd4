"""The ordered worker pool of summ-prepare: ``map`` over processes, in input order, with a
bounded window so that memory does not grow with the corpus. No fairseq import."""
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, List

from summ_plugin.safe_io import exit_when_parent_dies

# Records per task sent to a worker, and how many tasks may be in flight per worker: the
# window is what bounds memory (Pool.imap alone would read the whole input ahead).
CHUNK_SIZE = 16
TASKS_IN_FLIGHT_PER_WORKER = 4


def chunked(items: Iterable[object], size: int = CHUNK_SIZE) -> Iterator[List[object]]:
    chunk: List[object] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _start_worker(parent_pid: int, initializer: Callable, initargs: tuple) -> None:
    """Pool worker start-up: end with the parent (no orphan blocked on its queue after a
    SIGKILL of summ-prepare), then the real initializer."""
    exit_when_parent_dies(parent_pid)
    initializer(*initargs)


class OrderedPool:
    """``map(fn, items)`` in input order on ``workers`` processes, with a bounded window.

    One pool serves every split (worker start-up, BPE and retriever loading happen once).
    ``workers == 1`` runs in this process: no pickling, same code path, same bytes out.
    A ProcessPoolExecutor, not multiprocessing.Pool: when a worker dies (OOM killer) the
    executor raises BrokenProcessPool where Pool would wait forever.
    """

    def __init__(self, workers: int, initializer: Callable, initargs: tuple):
        self.workers = workers
        self.initializer = initializer
        self.initargs = initargs
        self._executor = None

    def __enter__(self) -> "OrderedPool":
        if self.workers <= 1:
            self.initializer(*self.initargs)
        else:
            self._executor = ProcessPoolExecutor(
                self.workers, initializer=_start_worker, initargs=(os.getpid(), self.initializer, self.initargs)
            )
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=exc_type is None, cancel_futures=True)
            self._executor = None

    def imap(self, fn: Callable, items: Iterable) -> Iterator:
        if self._executor is None:
            for item in items:
                yield fn(item)
            return
        # executor.map would submit the whole input at once; this window is what bounds memory
        window = self.workers * TASKS_IN_FLIGHT_PER_WORKER
        pending: deque = deque()
        try:
            for item in items:
                pending.append(self._executor.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
