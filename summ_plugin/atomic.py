"""Atomic file output: write a temp file next to the target, then ``os.replace`` it.

A reader (or a later run) sees either the old file or the complete new one, never a
half-written file that looks complete; on any error the temp file is removed.
No fairseq import.
"""
import json
import os
import tempfile
from contextlib import contextmanager

from summ_plugin.safe_io import default_file_mode


@contextmanager
def atomic_output(path: str, mode: str = "w", encoding: str = "utf-8"):
    """``with atomic_output(path) as handle:`` write; published only if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; the published file gets what open() would give it
        os.chmod(tmp, default_file_mode())
        binary = "b" in mode
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": "\n"})) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    with atomic_output(path) as handle:
        handle.write(text)


def atomic_write_json(path: str, obj, indent: int = 2) -> None:
    with atomic_output(path) as handle:
        json.dump(obj, handle, indent=indent, sort_keys=False, ensure_ascii=False)
        handle.write("\n")
