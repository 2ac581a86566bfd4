"""Wall time and peak memory of a command and all its descendants. No fairseq import.

Peak memory is the maximum, over samples taken every ``interval`` seconds, of the summed
resident set size (``VmRSS`` in ``/proc/PID/status``) of the process and every descendant
(found through ``/proc/PID/task/TID/children``). That is what psutil polling would give,
without the dependency. Pages shared after ``fork`` count once per process, so the figure
is an upper bound of the memory the tree really holds. For reference the result also has
``getrusage(RUSAGE_CHILDREN).ru_maxrss``, the largest single process (not the sum).
"""
import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence


@dataclass
class Measured:
    wall_s: float
    peak_tree_rss_mb: float
    max_single_rss_mb: float
    returncode: int
    output: str


def descendants(pid: int) -> List[int]:
    """``pid`` and all its live descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tids = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as handle:
                    todo.extend(int(child) for child in handle.read().split())
            except OSError:
                pass
    return found


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> int:
    return sum(rss_kb(p) for p in descendants(pid))


def run_measured(cmd: Sequence[str], env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                 interval: float = 0.05, log_path: Optional[str] = None) -> Measured:
    """Run ``cmd`` to completion, polling the process tree's RSS; output goes to ``log_path``
    (or is kept) so that pipes never block the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out_handle = open(log_path, "w") if log_path else subprocess.PIPE
    start = time.perf_counter()
    proc = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdout=out_handle,
                            stderr=subprocess.STDOUT, text=True)
    peak = [0]
    done = threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            done.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        output, _ = proc.communicate()
    finally:
        done.set()
        poller.join()
        if log_path:
            out_handle.close()
    wall = time.perf_counter() - start
    if log_path:
        with open(log_path, errors="replace") as handle:
            output = handle.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is a running maximum: only a rise is attributable to this command
    single = after if after > before else 0
    return Measured(wall, peak[0] / 1024.0, single / 1024.0, proc.returncode, output or "")
