"""The ordered worker pool of summ-prepare: ``map`` over processes, in input order, with a
bounded window so that memory does not grow with the corpus. No fairseq import."""
import logging
import os
import signal
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Dict, Iterable, Iterator, List

from summ_plugin.errors import UserError
from summ_plugin.safe_io import exit_when_parent_dies

logger = logging.getLogger(__name__)

# Records per task sent to a worker, and how many tasks may be in flight per worker: the
# window is what bounds memory (Pool.imap alone would read the whole input ahead).
CHUNK_SIZE = 16
TASKS_IN_FLIGHT_PER_WORKER = 4


def max_useful_workers() -> int:
    """More processes than this do not make CPU-bound work faster: twice the CPUs this process
    may run on (at least 4, so that a small machine still runs the multi-process path)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(4, 2 * cpus)


def usable_workers(requested: int, option: str = "--workers") -> int:
    """``requested`` capped at :func:`max_useful_workers`, with a WARNING when capped: the
    executor starts every worker up front, so ``--workers 100000`` forked 100000 processes and
    stalled the machine. Outputs never depend on the number of workers."""
    cap = max_useful_workers()
    if requested > cap:
        logger.warning("%s %d: using %d worker processes (%d CPUs available); more would only "
                       "compete for them", option, requested, cap, os.cpu_count() or 1)
        return cap
    return requested


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
    # the parent's handlers came with fork: SIGTERM (the executor's way of ending the other
    # workers once one died) would unwind with a traceback, and Ctrl-C reaches every process
    # of the group; the parent stops the workers in both cases
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    initializer(*initargs)


class WorkerDiedError(UserError):
    """A worker process ended without finishing its task (killed: the OOM killer, kill -9)."""


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    meaning = {"SIGKILL": "killed, perhaps out of memory", "SIGSEGV": "a crash",
               "SIGTERM": "terminated", "SIGBUS": "a crash"}.get(name, name)
    return f"signal {number}: {meaning}"


def worker_death_message(exit_codes: Dict[int, int]) -> str:
    """One line on the dead worker(s): ``exit_codes`` maps PID to exit code (-N: signal N)."""
    dead = {pid: code for pid, code in exit_codes.items() if code is not None and code != 0}
    if not dead:
        return "a worker process died (cause unknown)"
    # the executor terminates (SIGTERM) the other workers once one died: name the first cause
    pid, code = sorted(dead.items(), key=lambda item: (item[1] == -signal.SIGTERM, item[0]))[0]
    cause = _signal_name(-code) if code < 0 else f"exit status {code}"
    return f"a worker process (PID {pid}) died ({cause})"


class OrderedPool:
    """``map(fn, items)`` in input order on ``workers`` processes, with a bounded window.

    One pool serves every split (worker start-up, BPE and retriever loading happen once).
    ``workers == 1`` runs in this process: no pickling, same code path, same bytes out.
    A ProcessPoolExecutor, not multiprocessing.Pool: when a worker dies (OOM killer) the
    executor raises BrokenProcessPool where Pool would wait forever.
    """

    def __init__(self, workers: int, initializer: Callable, initargs: tuple):
        self.workers = usable_workers(workers)
        self.initializer = initializer
        self.initargs = initargs
        self._executor = None
        self._seen: Dict[int, object] = {}  # PID -> Process of every worker started
        self._stopping = False  # ending with an error: the workers are killed

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
            if exc_type is not None:
                self._stopping = True
                # ending with an error: workers may be blocked writing results nobody reads,
                # and the executor's exit handler would wait for them (minutes, after a worker
                # was killed); they hold nothing worth waiting for
                self._stop_workers()
                # tasks still queued for the dead workers: the queue's feeder thread would block
                # on the full pipe, and the interpreter joins it at exit (a hang after SIGTERM)
                call_queue = getattr(self._executor, "_call_queue", None)
                if call_queue is not None:
                    call_queue.cancel_join_thread()
                # no cancel_futures here: the executor's own thread fails the pending futures of
                # the killed workers, and cancelling them at the same time races with it
                # (InvalidStateError traceback on Python 3.11)
                self._executor.shutdown(wait=False)
            else:
                self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _workers(self) -> Dict[int, object]:
        processes = getattr(self._executor, "_processes", None) or {}
        self._seen.update(processes)
        return self._seen

    def _stop_workers(self) -> Dict[int, int]:
        """Kill the workers still running (they may be blocked on a pipe) and return the exit
        codes of those that had ended before (PID -> code; -N: signal N)."""
        from multiprocessing.connection import wait

        workers = dict(self._workers())
        # a process's sentinel is ready once it has ended; unlike exitcode, it does not race
        # with the executor's thread reaping the same process
        ended = {process.sentinel for process in workers.values()}
        ended = set(wait(list(ended), timeout=0))
        for process in workers.values():
            if process.sentinel not in ended:
                process.kill()
        codes = {}
        for pid, process in workers.items():
            process.join(timeout=5)
            if process.sentinel in ended:
                # the executor's thread may be the one reaping it: its code arrives shortly
                for _ in range(50):
                    if process.exitcode is not None:
                        break
                    time.sleep(0.02)
                codes[pid] = process.exitcode
        return codes

    def imap(self, fn: Callable, items: Iterable) -> Iterator:
        if self._executor is None:
            for item in items:
                yield fn(item)
            return
        # executor.map would submit the whole input at once; this window is what bounds memory
        window = self.workers * TASKS_IN_FLIGHT_PER_WORKER
        pending: deque = deque()
        failed = False
        try:
            for item in items:
                pending.append(self._executor.submit(fn, item))
                self._workers()  # note the workers while they live: their exit codes say why one died
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool:
            failed = True
            codes = self._stop_workers()
            raise WorkerDiedError(worker_death_message(codes)) from None
        except GeneratorExit:  # the consumer stopped early: its pending tasks are not needed
            raise
        except BaseException:  # Ctrl-C, SIGTERM: __exit__ kills the workers
            failed = True
            raise
        finally:
            # after a failure the executor's own thread fails the pending futures of the killed
            # workers; cancelling them too races with it (an InvalidStateError traceback from
            # that thread on Python 3.11)
            if not failed and not self._stopping:
                for future in pending:
                    future.cancel()
