"""Atomic outputs: build next to the target under a PID-named temp name, then rename.

* :func:`atomic_output` (files): written as ``.NAME.tmp-PID`` and ``os.replace``\\ d into place.
* :func:`publish_directory` (data-bins, exports): built as ``NAME.tmp-PID`` and renamed into
  place, replacing only the directory the caller checked at start (if any).

A reader (or a later run) sees either the old output or the complete new one, never a
half-written one that looks complete; on any error the temp file or directory is removed. A
run killed too hard to clean up (SIGKILL, the OOM killer) leaves its temp behind under its PID:
the next run writing the same output removes it (``safe_io.remove_stale_temps``) and says so.
No fairseq import.
"""
import json
import os
import shutil
import stat
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

from summ_plugin.errors import UserError
from summ_plugin.safe_io import default_file_mode, file_in_the_way, hidden_temp_path, remove_stale_temps, temp_path


class DestinationChangedError(UserError):
    """Something else created, replaced or modified the destination during the run."""


def is_stream(path: str) -> bool:
    """``path`` is a device, pipe or socket (``/dev/null``, ``/dev/stdout``, ``<(...)``), not a file:
    output named so is written straight to it. Renaming a file onto it would replace the device
    node itself (as root: ``/dev/null`` becomes a regular file)."""
    absolute = os.path.abspath(path)
    if absolute.startswith(("/dev/", "/proc/")):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def make_parent_directory(path: str) -> str:
    """Create the directory ``path`` goes in (and its parents); return it. A part of it that is a
    file is a :class:`UserError` naming it (not a FileExistsError traceback)."""
    directory = os.path.dirname(os.path.abspath(path))
    blocker = file_in_the_way(path)
    if blocker:
        raise UserError(f"{path}: cannot be created: {blocker} is a file, not a directory")
    os.makedirs(directory, exist_ok=True)
    return directory


class OutputIsADirectoryError(UserError):
    """A file output's path names a directory."""


@contextmanager
def atomic_output(path: str, mode: str = "w", encoding: str = "utf-8"):
    """``with atomic_output(path) as handle:`` write; published only if the block succeeds.

    A symlink is followed (its target is replaced, the link kept); a device or pipe is written
    straight to (:func:`is_stream`)."""
    if os.path.isdir(path):
        # refused before the work: the rename at the end would fail, naming the temp file
        raise OutputIsADirectoryError(f"{path}: is a directory; give the path of a file to write")
    binary = "b" in mode
    if is_stream(path):
        with open(path, mode, **({} if binary else {"encoding": encoding, "newline": "\n"})) as handle:
            yield handle
        return
    if os.path.islink(path):
        path = os.path.realpath(path)
    make_parent_directory(path)
    directory, name = os.path.split(os.path.abspath(path))
    remove_stale_temps(directory, name)
    tmp = hidden_temp_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, default_file_mode())
    except FileExistsError:
        # our PID's name: left by a dead process that had this PID before us
        os.unlink(tmp)
        fd = os.open(tmp, flags, default_file_mode())
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": "\n"})) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    with atomic_output(path) as handle:
        handle.write(text)


def atomic_write_json(path: str, obj, indent: int = 2) -> None:
    with atomic_output(path) as handle:
        json.dump(obj, handle, indent=indent, sort_keys=False, ensure_ascii=False)
        handle.write("\n")


def directory_state(path: str, marker: Optional[str] = None) -> Optional[Tuple]:
    """What is at ``path`` now: None, or the identity of the entry, of its ``marker`` file (e.g.
    a data-bin's prepare.json) and of every entry below it. Taken at start and compared at
    publish, so that publishing replaces only what was checked: a file added or replaced
    during the run makes the states differ."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    marker_id = None
    if marker:
        try:
            found = os.stat(os.path.join(path, marker))
            marker_id = (found.st_ino, found.st_mtime_ns, found.st_size)
        except OSError:
            pass
    entries = []
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for name in sorted(dirs + files):
                full = os.path.join(root, name)
                try:
                    entries.append((os.path.relpath(full, path), os.lstat(full).st_ino))
                except OSError:
                    entries.append((os.path.relpath(full, path), None))
    return (st.st_dev, st.st_ino, marker_id, tuple(sorted(entries)))


@contextmanager
def publish_directory(dest: str, state_at_start: Optional[Tuple] = None,
                      marker: Optional[str] = None) -> Iterator[str]:
    """``with publish_directory(dest, state) as tmp:`` build the directory in ``tmp``
    (``DEST.tmp-PID``); when the block succeeds it is renamed to ``dest``.

    ``state_at_start``: ``directory_state(dest, marker)`` when the caller checked ``dest``;
    None: ``dest`` must not exist. Publishing replaces only that: anything else found at
    ``dest`` at the end (made during the run by a person or another program) is left alone
    and a :class:`DestinationChangedError` says so. Killed runs' temp directories for ``dest``
    are removed first; on any error this run's is removed.
    """
    dest = os.path.abspath(dest)
    parent = make_parent_directory(dest)
    remove_stale_temps(parent, os.path.basename(dest))
    tmp = temp_path(dest)
    shutil.rmtree(tmp, ignore_errors=True)  # our own PID's: a dead process that had it
    os.mkdir(tmp)
    try:
        yield tmp
        if directory_state(dest, marker) != state_at_start:
            raise DestinationChangedError(
                f"{dest}: changed while this run was working (created, replaced or modified by someone "
                "else); left it as it is and published nothing")
        if state_at_start is not None:
            old = temp_path(dest, "old")
            os.rename(dest, old)
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
