"""Safe loading of fairseq checkpoints on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default. fairseq 0.12's
``checkpoint_utils.load_checkpoint_to_cpu`` calls ``torch.load`` without saying
``weights_only``, so stock ``fairseq-train`` cannot resume from its own
``checkpoint_last.pt`` nor ``--restore-file`` a BART ``model.pt`` ("Unsupported global:
GLOBAL argparse.Namespace"). The tempting fix, ``weights_only=False``, would let a crafted
checkpoint run arbitrary code while it is unpickled.

Importing this module instead

* allow-lists exactly the plain-data classes that fairseq checkpoints hold
  (``torch.serialization.add_safe_globals``): ``argparse.Namespace`` (``args`` and the
  ``cfg.model`` of legacy architectures), omegaconf containers and nodes (``cfg`` saved as a
  DictConfig by fairseq 0.10, and the state fairseq broadcasts between ranks), numpy scalars
  and arrays under both the ``numpy._core`` (numpy 2) and ``numpy.core`` (numpy 1) spellings
  (fairseq issue 5603), and fairseq's ``_TensorPlaceholder`` (distributed state broadcast);
* makes ``fairseq.checkpoint_utils`` call ``torch.load`` with ``weights_only=True`` always,
  even when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set, and turns a refusal into an
  :class:`UnsafeCheckpointError` that names the file and the offending globals;
* turns a truncated or corrupt file into a :class:`CorruptCheckpointError` naming it;
* makes fairseq's copy of a freshly saved checkpoint to ``checkpoint_last.pt`` (and
  ``checkpoint_best.pt``) atomic: fairseq writes the first file via ``.tmp`` + rename but
  copies it to the others with ``shutil.copyfile``, so a crash during that copy would leave a
  truncated ``checkpoint_last.pt`` for the next run to resume from;
* makes every plugin error (``summ_plugin.errors.UserError``: these, a vocabulary mismatch,
  a raw directory's bad record or BPE file, ...) end a console script such as fairseq-train
  with one ``error:`` line instead of a traceback, even where fairseq re-raises it wrapped in
  its own generic exception.

:func:`load_checkpoint_safely` is the same loading for code outside fairseq.
"""
import argparse
import collections
import io
import logging
import os
import pickle
import re
import shutil
import struct
import sys
import types
import zipfile
import typing
import warnings
from typing import Any, List, Optional, Tuple, Union

import torch

from .atomic import atomic_output
from .checkpoint_contents import CheckpointContentsError, check_checkpoint_contents  # noqa: F401 (re-exported)
from .errors import UserError, find_user_error

logger = logging.getLogger(__name__)

# The dtypes numpy arrays / scalars in real checkpoints use (loss values, counters, masks).
_NUMPY_DTYPE_CLASS_NAMES = (
    "BoolDType", "Int8DType", "UInt8DType", "Int16DType", "UInt16DType", "Int32DType",
    "UInt32DType", "Int64DType", "UInt64DType", "LongDType", "ULongDType",
    "Float16DType", "Float32DType", "Float64DType", "LongDoubleDType", "StrDType",
)

_GLOBAL_IN_MESSAGE = re.compile(r"GLOBAL ([\w.]+)")
_UNRECOGNIZED_IN_MESSAGE = re.compile(r"(?:unrecognized function|but got) (<[^>]*>|[\w.]+)")


class UnsafeCheckpointError(UserError, pickle.UnpicklingError):
    """A checkpoint needs globals outside the allow-list; nothing in it was executed."""


class CorruptCheckpointError(UserError, ValueError):
    """A checkpoint file is truncated, empty or not a torch checkpoint at all."""


def _numpy_globals() -> List[Union[Any, Tuple[Any, str]]]:
    import numpy

    try:  # numpy >= 2 names its internals numpy._core; files from numpy 1 say numpy.core.
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    entries: List[Union[Any, Tuple[Any, str]]] = [
        numpy.ndarray,
        numpy.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
    ]
    # Register both spellings explicitly, so a file written under either numpy loads.
    for module_name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        entries.append((multiarray._reconstruct, f"{module_name}._reconstruct"))
        entries.append((multiarray.scalar, f"{module_name}.scalar"))
    dtypes = getattr(numpy, "dtypes", None)  # numpy >= 1.25 pickles dtypes by class
    if dtypes is not None:
        for name in _NUMPY_DTYPE_CLASS_NAMES:
            if hasattr(dtypes, name):
                entries.append(getattr(dtypes, name))
    return entries


def _omegaconf_globals() -> List[Any]:
    from omegaconf import DictConfig, ListConfig, base, nodes

    entries: List[Any] = [DictConfig, ListConfig, base.ContainerMetadata, base.Metadata]
    for name in ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode",
                 "BytesNode", "EnumNode"):
        if hasattr(nodes, name):
            entries.append(getattr(nodes, name))
    # Metadata fields: ref_type/key_type/element_type are typing.Any or a builtin type,
    # object_type is dict/list; flags are plain dicts.
    entries += [typing.Any, dict, list, tuple, int, float, str, bool, bytes, type(None)]
    return entries


def _fairseq_globals() -> List[Any]:
    try:
        from fairseq.distributed.utils import _TensorPlaceholder
    except ImportError:  # fairseq not installed: loading plain files still works
        return []
    # Rank 0 broadcasts the loaded state to the other ranks with tensors replaced by
    # these placeholders; the receiving ranks torch.load it with the default weights_only.
    return [_TensorPlaceholder]


def fairseq_checkpoint_safe_globals() -> List[Union[Any, Tuple[Any, str]]]:
    """The allow-list: every class or function a fairseq checkpoint's pickle may name."""
    return (
        [argparse.Namespace, collections.defaultdict]
        + _omegaconf_globals()
        + _numpy_globals()
        + _fairseq_globals()
    )


def _global_name(entry: Union[Any, Tuple[Any, str]]) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f"{getattr(entry, '__module__', '?')}.{getattr(entry, '__qualname__', repr(entry))}"


_allowed: Optional[List[Union[Any, Tuple[Any, str]]]] = None


def allow_fairseq_checkpoint_globals() -> List[Union[Any, Tuple[Any, str]]]:
    """Register the allow-list with torch (process-wide, once) and log what it holds."""
    global _allowed
    if _allowed is None:
        with warnings.catch_warnings():  # numpy 2 warns on touching numpy.core
            warnings.simplefilter("ignore", DeprecationWarning)
            entries = fairseq_checkpoint_safe_globals()
        torch.serialization.add_safe_globals(entries)
        _allowed = entries
        logger.debug(
            "weights_only checkpoint loading: allowed %d globals that fairseq checkpoints "
            "hold: %s", len(entries), ", ".join(sorted({_global_name(e) for e in entries}))
        )
    return _allowed


def _describe_source(f: Any) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    name = getattr(f, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) else repr(f)


def _offending_globals(f: Any, message: str) -> List[str]:
    """Name what the file needs beyond the allow-list, by reading it (never running it)."""
    found: List[str] = []
    if isinstance(f, (str, os.PathLike)) or hasattr(f, "seek"):
        try:
            if hasattr(f, "seek"):
                f.seek(0)
            found = list(torch.serialization.get_unsafe_globals_in_checkpoint(f))
        except Exception:  # legacy (non-zip) files cannot be disassembled this way
            found = []
    if not found:
        found = _GLOBAL_IN_MESSAGE.findall(message) or _UNRECOGNIZED_IN_MESSAGE.findall(message)
    return found


def _weights_only_load(f: Any, map_location: Any = "cpu", **kwargs: Any) -> Any:
    allowed = allow_fairseq_checkpoint_globals()
    if kwargs.pop("weights_only", True) is not True:
        logger.warning("refusing weights_only=False for %s: loading it safely instead",
                       _describe_source(f))
    # Re-adding is a set union (idempotent). Not the safe_globals() context manager: on exit
    # it removes its entries, which would also drop the process-wide registration.
    torch.serialization.add_safe_globals(allowed)
    from .checkpoint_format import not_a_checkpoint_message

    problem = not_a_checkpoint_message(f)
    if problem:
        raise CorruptCheckpointError(problem)
    try:
        return torch.load(f, map_location=map_location, weights_only=True, **kwargs)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as err:
        if _looks_corrupt(err):
            raise _corrupt_error(f, err) from None
        message = str(err)
        offending = _offending_globals(f, message)
        raise UnsafeCheckpointError(
            f"refusing to load checkpoint {_describe_source(f)}: it names "
            f"{', '.join(offending) or 'a global'} which is not on the allow-list of classes "
            "fairseq checkpoints hold, and unpickling it could run code (nothing was run). "
            "If you trust the file and the class is plain data, add it with "
            "torch.serialization.add_safe_globals([...]) after importing summ_plugin."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, IndexError,
            struct.error, UnicodeDecodeError) as err:
        # torch reports a truncated zip as RuntimeError ("failed finding central directory"),
        # a truncated legacy pickle as EOFError / UnpicklingError, random bytes as a
        # KeyError or IndexError from its legacy-format reader
        raise _corrupt_error(f, err) from None


# What torch / pickle say about a file that is cut short or is not a checkpoint at all.
_CORRUPT_MESSAGES = ("central directory", "PytorchStreamReader", "invalid load key", "truncated",
                     "Ran out of input", "could not find MARK", "unpickling stack underflow",
                     "pickle data was truncated", "magic number", "EOF", "file_reader")


def _looks_corrupt(err: BaseException) -> bool:
    message = str(err)
    return any(marker in message for marker in _CORRUPT_MESSAGES)


def _corrupt_error(f: Any, err: BaseException) -> "CorruptCheckpointError":
    source = _describe_source(f)
    size = ""
    if isinstance(f, (str, os.PathLike)) or isinstance(source, str):
        try:
            size = f" ({os.path.getsize(source)} bytes)"
        except OSError:
            size = ""
    text = str(err).strip()
    # first sentence only: torch appends paragraphs of advice that do not apply here
    first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else ""
    cause = first if first and not isinstance(err, (KeyError, IndexError)) else f"{type(err).__name__} {first}".strip()
    return CorruptCheckpointError(
        f"checkpoint {source}{size} is truncated or corrupt and cannot be loaded "
        f"({cause[:160]}). Delete it, or restore from an earlier checkpoint "
        "(e.g. a checkpoint_<epoch>_<updates>.pt in the same directory, or checkpoint_best.pt)"
    )


def load_fairseq_checkpoint(path: Union[str, os.PathLike]) -> dict:
    """:func:`load_checkpoint_safely` of a file that must be a fairseq checkpoint with usable
    weights (summ_plugin.checkpoint_contents); a CheckpointContentsError says what it is not."""
    return check_checkpoint_contents(load_checkpoint_safely(path), os.fspath(path))


def load_checkpoint_safely(path: Union[str, os.PathLike, io.IOBase],
                           map_location: Any = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True`` and the fairseq allow-list.

    Raises :class:`UnsafeCheckpointError` (naming the file and the offending globals)
    for a file that would need anything else, and FileNotFoundError for a missing one.
    """
    if isinstance(path, (str, os.PathLike)) and not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {os.fspath(path)}")
    return _weights_only_load(path, map_location=map_location)


class _TorchWithSafeLoad(types.ModuleType):
    """Stands in for ``torch`` inside ``fairseq.checkpoint_utils``: same module, safe load."""

    def __init__(self, torch_module: types.ModuleType):
        super().__init__(torch_module.__name__, torch_module.__doc__)
        self._torch = torch_module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._torch, name)

    @staticmethod
    def load(f: Any, map_location: Any = None, **kwargs: Any) -> Any:
        # every load in checkpoint_utils is of a checkpoint: judge what it holds before
        # fairseq indexes it
        return check_checkpoint_contents(_weights_only_load(f, map_location=map_location, **kwargs),
                                         _describe_source(f))


def install_safe_fairseq_loading() -> bool:
    """Make ``fairseq.checkpoint_utils`` load with weights_only=True and the allow-list.

    Every fairseq path that reads a checkpoint file (``--restore-file``, resuming from
    ``checkpoint_last.pt``, ``--finetune-from-model``, ``load_model_ensemble``, the hub's
    ``from_pretrained``) goes through ``checkpoint_utils.load_checkpoint_to_cpu`` and its
    module-level ``torch.load``. Returns False when fairseq is not importable.
    """
    allow_fairseq_checkpoint_globals()
    try:
        from fairseq import checkpoint_utils
    except ImportError:
        return False
    if not isinstance(checkpoint_utils.torch, _TorchWithSafeLoad):
        checkpoint_utils.torch = _TorchWithSafeLoad(torch)
        logger.info("fairseq.checkpoint_utils now loads checkpoints with weights_only=True")
    return True


class _AtomicCopyPathManager:
    """Stands in for ``fairseq.file_io.PathManager`` inside ``checkpoint_utils``: the same,
    except that ``copy`` of a local file goes to a temp file in the destination's directory
    and is renamed into place, so the destination is always either the old or the new file."""

    def __init__(self, path_manager: Any):
        self._path_manager = path_manager

    def __getattr__(self, name: str) -> Any:
        return getattr(self._path_manager, name)

    def copy(self, src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        if self._path_manager.path_requires_pathmanager(dst_path):
            return self._path_manager.copy(src_path, dst_path, overwrite=overwrite)
        if os.path.exists(dst_path) and not overwrite:
            return False
        try:
            with atomic_output(dst_path, "wb") as out, open(src_path, "rb") as source:
                shutil.copyfileobj(source, out, 1 << 24)
                out.flush()
                os.fsync(out.fileno())
        except UserError:
            raise
        except OSError as err:
            raise _write_failure(dst_path, err) from err
        return True


class CheckpointWriteError(UserError, OSError):
    """A checkpoint could not be written (disk full, quota, read-only); nothing partial is left."""


def _write_failure(path: str, err: BaseException) -> CheckpointWriteError:
    from .safe_io import find_write_error, write_error_message

    cause = find_write_error(err)
    if cause is not None:
        reason = write_error_message(cause).rsplit(": ", 1)[-1]
    else:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        reason = text[:200]
        try:  # torch's stream writer reports a full disk as "file write failed", without errno
            stats = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
            if stats.f_bavail * stats.f_frsize < (64 << 20):
                reason += " (the disk is full or nearly)"
        except OSError:
            pass
    return CheckpointWriteError(
        f"{path}: cannot write the checkpoint ({reason}); nothing partial was left, the files already in "
        "the directory are unchanged: free space (or fix the permission) and run again (fairseq-train resumes "
        "from checkpoint_last.pt)")


def save_checkpoint_atomically(obj: Any, path: str) -> None:
    """``torch.save`` to a PID-named temp file beside ``path``, fsync, rename: ``path`` is the
    old file or the complete new one; on failure the temp file is removed and a
    :class:`CheckpointWriteError` says why in one line."""
    try:
        with atomic_output(path, "wb") as out:
            torch.save(obj, out)
            out.flush()
            os.fsync(out.fileno())
    except UserError:
        raise
    except (OSError, RuntimeError) as err:  # torch wraps the writer's OSError in RuntimeError
        raise _write_failure(path, err) from err


def install_atomic_checkpoint_saves() -> bool:
    """Make fairseq's ``torch_persistent_save`` (every checkpoint fairseq-train writes)
    :func:`save_checkpoint_atomically`: fairseq writes ``NAME.tmp`` and leaves it half-written
    when the disk fills, retries twice with 2.5 s sleeps and logs a traceback; then fails with
    torch's "file write failed" traceback."""
    try:
        from fairseq import checkpoint_utils
    except ImportError:
        return False
    original = checkpoint_utils.torch_persistent_save
    if getattr(original, "_summ_plugin_atomic", False):
        return True

    def torch_persistent_save(obj, filename, async_write: bool = False):
        if async_write or not isinstance(filename, str) or \
                checkpoint_utils.PathManager.path_requires_pathmanager(filename):
            return original(obj, filename, async_write=async_write)
        return save_checkpoint_atomically(obj, filename)

    torch_persistent_save._summ_plugin_atomic = True
    checkpoint_utils.torch_persistent_save = torch_persistent_save
    return True


def install_atomic_checkpoint_copies() -> bool:
    """Make ``checkpoint_utils.save_checkpoint``'s copies (checkpoint_last.pt, ...) atomic."""
    try:
        from fairseq import checkpoint_utils
    except ImportError:
        return False
    if not isinstance(checkpoint_utils.PathManager, _AtomicCopyPathManager):
        checkpoint_utils.PathManager = _AtomicCopyPathManager(checkpoint_utils.PathManager)
    return True


def install_one_line_user_errors() -> None:
    """An uncaught plugin user error (any :class:`summ_plugin.errors.UserError`, also when
    wrapped in fairseq's own exception) ends the program with one ``prog: error: ...`` line
    (exit status 1) instead of a traceback; every other exception keeps Python's report."""
    previous = sys.excepthook
    if getattr(previous, "_summ_plugin_hook", False):
        return

    def excepthook(exc_type, exc, tb):
        user_error = find_user_error(exc)
        if user_error is None:
            return previous(exc_type, exc, tb)
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "summ_plugin"
        sys.stderr.write(f"{prog}: error: {type(user_error).__name__}: {user_error}\n")
        sys.stderr.flush()

    excepthook._summ_plugin_hook = True
    sys.excepthook = excepthook


install_safe_fairseq_loading()
install_atomic_checkpoint_copies()
install_atomic_checkpoint_saves()
install_one_line_user_errors()
