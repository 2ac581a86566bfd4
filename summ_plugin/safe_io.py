"""File-system guards shared by the summ-* tools. No fairseq import.

* :func:`default_file_mode`: the mode ``open()`` would give a new file under the user's umask
  (``tempfile.mkstemp`` creates 0600 files; atomic outputs are renamed into place, so they
  would keep 0600 without a chmod).
* :func:`same_file`: whether two paths name one file (same path, hard link, symlink).
* :func:`check_outputs_are_not_inputs`: the one check, for every tool and every output option,
  that nothing written is (or lies inside, or holds) something read.
* :func:`write_error_message`: one line for the file-system failures a user must fix (disk
  full, read-only or forbidden destination), ``None`` for anything else (a bug keeps its
  traceback).
* :func:`remove_stale_temps`: ``NAME.tmp-PID`` / ``NAME.old-PID`` directories and
  ``.NAME.tmp-PID`` files (what :mod:`summ_plugin.atomic` writes before it renames) whose
  process is dead are debris of a killed run; remove them and say so.
* :class:`DestinationLock`: one writer per destination, via a lock file next to it.
"""
import errno
import logging
import os
import re
import shutil
from typing import Iterable, List, Optional, Tuple

from summ_plugin.errors import UserError

logger = logging.getLogger(__name__)

# errno values that mean "fix the destination", not "the program is wrong"
_WRITE_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
    # a path of the wrong kind: a directory where a file goes, a file where a directory goes
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EEXIST: "exists and is not a directory",
}


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (threads share it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    return 0o666 & ~current_umask()


def same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are one file: equal paths, a hard link, or a symlink to it."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: str, directory: str) -> bool:
    """``path`` (real, absolute) lies strictly inside ``directory`` (real, absolute)."""
    return path != directory and os.path.commonpath([path, directory]) == directory


def _how_same(a: str, b: str) -> str:
    if os.path.abspath(a) == os.path.abspath(b):
        return "the same path"
    if os.path.realpath(a) == os.path.realpath(b):
        return "through a symlink"
    return "a hard link"


def output_input_conflict(output: str, source: str, output_is_directory: bool = False,
                          source_read_whole: bool = False) -> Optional[str]:
    """Why writing ``output`` would destroy or change the input ``source``, or None.

    No output may be the input (the same path, a hard link, a symlink); an output directory (one
    a tool builds and replaces whole) must not hold an input; and nothing may be written inside
    an input directory whose every file the tool reads (``source_read_whole``: a raw --input)."""
    if same_file(source, output):
        kind = "directory" if os.path.isdir(source) else "file"
        return f"is the input {kind} ({_how_same(source, output)}); writing it would destroy the input"
    out_real, in_real = os.path.realpath(output), os.path.realpath(source)
    if source_read_whole and os.path.isdir(in_real) and _inside(out_real, in_real):
        return "lies inside the input directory; writing there would change the input"
    if output_is_directory and _inside(in_real, out_real):
        return "holds the input; replacing it would delete the input"
    return None


def file_in_the_way(path: str) -> Optional[str]:
    """The file (not a directory) among ``path``'s existing ancestors, which stops ``path`` from
    being created; None when there is none."""
    probe = os.path.dirname(os.path.abspath(path))
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    return probe if probe and not os.path.isdir(probe) else None


def check_outputs_are_not_inputs(inputs: Iterable[Tuple[str, str]], outputs: Iterable[Tuple[str, str]],
                                 output_dirs: Iterable[Tuple[str, str]] = (),
                                 inputs_read_whole: Iterable[Tuple[str, str]] = ()) -> None:
    """Refuse a run whose output would destroy one of its inputs, before anything is read.

    Each item is ``(label, path)``, the label the option that names the path (``--refs``).
    ``outputs`` are files a tool writes (replaced at the end), ``output_dirs`` directories it
    builds whole; ``inputs_read_whole`` directories all of whose files are input (a raw
    ``--input DIR``). Also refused: two outputs on one file (the second would replace the
    first), and a file output that is an existing directory. Raises :class:`UserError` naming
    the path: ``R: --json is the input file (the same path) of --refs; ...``."""
    whole = [(label, path, True) for label, path in inputs_read_whole if path]
    sources = [(label, path, False) for label, path in inputs if path] + whole
    files = [(label, path, False) for label, path in outputs if path]
    dirs = [(label, path, True) for label, path in output_dirs if path]
    for label, path, _ in files:
        if os.path.isdir(path):
            raise UserError(f"{path}: {label} is a directory; give a file name")
    written = files + dirs
    for label, path, _ in written:
        blocker = file_in_the_way(path)
        if blocker:
            raise UserError(f"{path}: {label} cannot be created: {blocker} is a file, not a directory")
    for out_label, out_path, is_dir in written:
        for in_label, in_path, read_whole in sources:
            conflict = output_input_conflict(out_path, in_path, is_dir, read_whole)
            if conflict:
                what, why = conflict.split("; ", 1)
                of = f"of {in_label}" if what.startswith("is ") else f"{in_path} ({in_label})"
                raise UserError(f"{out_path}: {out_label} {what} {of}; {why}. Give another output path")
    for i, (label_a, path_a, _) in enumerate(written):
        for label_b, path_b, _ in written[i + 1:]:
            if same_file(path_a, path_b):
                raise UserError(f"{path_b}: {label_b} is the same file as {label_a} {path_a}; "
                                "give each output its own path")


def write_error_message(err: BaseException, path: Optional[str] = None) -> Optional[str]:
    """``PATH: no space left on device`` for an error the user fixes in the file system
    (disk full, quota, read-only or forbidden destination), else None."""
    if not isinstance(err, OSError) or err.errno not in _WRITE_ERRNOS:
        return None
    where = err.filename or path or "output"
    return f"{where}: {_WRITE_ERRNOS[err.errno]}"


def find_write_error(err: Optional[BaseException]) -> Optional[OSError]:
    """The user-fixable OSError in ``err``'s cause/context chain (libraries wrap them)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if write_error_message(err) is not None:
            return err  # type: ignore[return-value]
        err = err.__cause__ or err.__context__
    return None


def pid_is_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


_TEMP_SUFFIX = re.compile(r"^.+\.(?:tmp|old)-\d+$")


def temp_path(path: str, kind: str = "tmp") -> str:
    """Where a run builds ``path`` before renaming it into place: ``PATH.tmp-PID`` (a directory;
    ``kind="old"``: where the replaced one waits to be deleted). A file's is hidden,
    ``.NAME.tmp-PID`` (see atomic.py). The PID lets the next run tell a killed run's debris
    from a running writer's work."""
    return f"{path.rstrip(os.sep)}.{kind}-{os.getpid()}"


def hidden_temp_path(path: str) -> str:
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.tmp-{os.getpid()}")


def remove_stale_temps(parent: str, name: Optional[str] = None) -> List[str]:
    """Remove ``NAME.tmp-PID`` / ``NAME.old-PID`` directories and ``.NAME.tmp-PID`` files in
    ``parent`` whose PID is not a running process (only those of ``name`` when given); return
    what was removed.

    A live PID is left alone even if it was reused by an unrelated process: deleting a
    running writer's work is worse than keeping debris one run longer.
    """
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in sorted(entries):
        kind = _temp_kind(entry, name)
        if kind is None:
            continue
        path = os.path.join(parent, entry)
        pid = int(entry.rsplit("-", 1)[1])
        if pid == os.getpid() or pid_is_alive(pid) or os.path.islink(path):
            continue
        if kind == "directory" and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif kind == "file" and os.path.isfile(path):
            try:
                os.unlink(path)
            except OSError:
                pass
        else:
            continue  # not what this module writes under that name: not ours to delete
        if not os.path.lexists(path):
            logger.warning("removed %s: temporary %s left by a run that was killed (pid %d is gone)", path, kind, pid)
            removed.append(path)
    return removed


def _temp_kind(entry: str, name: Optional[str]) -> Optional[str]:
    """"directory" for ``NAME.tmp-PID`` / ``NAME.old-PID``, "file" for ``.NAME.tmp-PID``, else None."""
    match = _TEMP_SUFFIX.match(entry)
    if not match:
        return None
    stem = entry.rsplit("-", 1)[0]
    if name is None:
        return "file" if entry.startswith(".") and stem.endswith(".tmp") else "directory"
    if stem in (f"{name}.tmp", f"{name}.old"):
        return "directory"
    if stem == f".{name}.tmp":
        return "file"
    return None


class DestinationBusyError(UserError):
    """Another process holds the destination's lock."""


class DestinationLock:
    """``with DestinationLock(dest):`` an exclusive, non-blocking lock on ``dest + '.lock'``.

    flock(2): the kernel releases it when the process dies, so a killed run never blocks
    the next one. The lock file is removed on release (a failed run leaves nothing behind);
    an acquirer checks that the file it locked is still the one at the path, so a file
    unlinked by the previous holder cannot be locked by two processes at once.
    """

    def __init__(self, dest: str):
        self.dest = dest
        self.path = dest.rstrip(os.sep) + ".lock"
        self._fd: Optional[int] = None

    def __enter__(self) -> "DestinationLock":
        import fcntl

        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise DestinationBusyError(
                    f"{self.dest}: another process is writing it (lock file {self.path} is held); "
                    "wait for it to finish or choose another destination"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return self
            os.close(fd)  # the previous holder removed it meanwhile: lock the new one

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None


# ----------------------------------------------------------------------------- worker processes

_PR_SET_PDEATHSIG = 1


def exit_when_parent_dies(parent_pid: int) -> str:
    """Make this (worker) process end when ``parent_pid`` dies, however it dies.

    A pool worker blocks reading its task queue; after SIGKILL of the parent nothing ever
    writes to it again, so without this it waits forever as an orphan. On Linux the kernel
    sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG); elsewhere a daemon thread
    polls the parent PID. Returns which mechanism is in place.
    """
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                # the parent may have died before prctl took effect: then we were re-parented
                if os.getppid() != parent_pid:
                    os._exit(1)
                return "prctl"
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="summ-parent-watch", daemon=True).start()
    return "thread"
