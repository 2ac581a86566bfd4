"""Which reader reads an input: the format of a path (``--format auto``), the file of a split in
a directory, ``--*-field`` options, and :func:`iter_input_records`, the one entry point every
tool reads records through. No fairseq import.
"""
import logging
import os
import stat
from typing import Iterator, Optional

from ..records import FieldNames
from .cnndm_stories import CnnDmStats, find_url_list, iter_cnndm_stories
from .delimited import iter_csv_records
from .files import EXTENSIONS, InputFormatError, check_text_input, known_suffix
from .jsonl import iter_jsonl_records
from .parquet import iter_parquet_records

logger = logging.getLogger(__name__)

FORMATS = ("auto", "jsonl", "csv", "parquet", "cnndm-stories")

# split names as summ-prepare uses them -> file stems users have (HF names its dev split "validation")
SPLIT_STEMS = {
    "train": ("train",),
    "valid": ("valid", "validation", "val", "dev"),
    "test": ("test",),
}


def field_names_from_options(
    id: Optional[str] = None,
    document: Optional[str] = None,
    documents: Optional[str] = None,
    query: Optional[str] = None,
    summary: Optional[str] = None,
    title: Optional[str] = None,
) -> Optional[FieldNames]:
    """``--*-field`` options -> ``FieldNames`` (unset ones take the canonical names), or ``None``
    when none was given, which tells :func:`iter_input_records` to detect the layout."""
    given = dict(id=id, document=document, documents=documents, query=query, summary=summary, title=title)
    if all(v is None for v in given.values()):
        return None
    return FieldNames(**{k: v for k, v in given.items() if v is not None})


def detect_format(path: str) -> str:
    """The format ``auto`` means for ``path``: a directory is CNN/DM stories, a file goes by extension."""
    ext = known_suffix(path)
    if os.path.isdir(path):
        if ext:  # train.jsonl/ is not a stories root but a file name that became a directory
            raise InputFormatError(path, f"is a directory, not a {EXTENSIONS[ext]} file")
        return "cnndm-stories"
    if not ext:
        raise InputFormatError(
            path,
            "cannot tell the input format from the file name; use --format "
            f"jsonl|csv|parquet|cnndm-stories (known extensions: {', '.join(sorted(EXTENSIONS))})",
        )
    return EXTENSIONS[ext]


def split_input_path(root: str, split: str, fmt: str = "auto") -> Optional[str]:
    """The input for ``split`` (train/valid/test) inside directory ``root``, or ``None``.

    Files: ``root/<stem><ext>`` for the split's stems (``valid`` also finds Hugging Face's
    ``validation``) and the format's extensions. Two different candidates -> error (ambiguous).
    CNN/DM stories: ``root`` itself when the split's URL list is in ``root`` (or ``root/url_lists``);
    ``auto`` falls back to this when ``root`` holds no split file.
    """
    if split not in SPLIT_STEMS:
        raise ValueError(f"unknown split '{split}' (expected one of {', '.join(SPLIT_STEMS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' (expected one of {', '.join(FORMATS)})")
    if fmt == "cnndm-stories":
        return root if find_url_list(root, split, None) is not None else None
    exts = [e for e, f in EXTENSIONS.items() if fmt == "auto" or f == fmt]
    found = [
        os.path.join(root, stem + ext)
        for stem in SPLIT_STEMS[split]
        for ext in exts
        if os.path.isfile(os.path.join(root, stem + ext))
    ]
    if len(found) > 1:
        raise InputFormatError(root, f"more than one input for split '{split}': {', '.join(found)}; keep one")
    if found:
        return found[0]
    # "auto" on a directory without split files: a CNN/DM stories root if it has the split's URL list
    if fmt == "auto" and find_url_list(root, split, None) is not None:
        return root
    return None


def iter_input_records(
    path: str,
    fmt: str = "auto",
    fields: Optional[FieldNames] = None,
    require_summary: bool = True,
    split: Optional[str] = None,
    *,
    url_lists_dir: Optional[str] = None,
    stats: Optional[CnnDmStats] = None,
) -> Iterator[object]:
    """Stream ``Record`` / ``BadRecordError`` from any supported input.

    ``path`` is a file (jsonl/csv/parquet; ``auto`` goes by extension) or, for ``cnndm-stories``,
    the stories root; ``split`` (train/valid/test) picks the URL list there (or in
    ``url_lists_dir``); ``stats`` (a :class:`CnnDmStats`) is filled in as stories are read.
    ``fields=None`` detects the column layout; explicit names are used as given.
    Raises :class:`InputFormatError` at call time when the input as a whole is unusable.
    """
    if fmt not in FORMATS:
        raise InputFormatError(path, f"unknown format '{fmt}' (expected one of {', '.join(FORMATS)})")
    if not os.path.exists(path):
        raise InputFormatError(path, "no such file or directory")
    if not os.path.isdir(path) and not stat.S_ISREG(os.stat(path).st_mode):
        # a pipe (<(zcat ...)) or device: the tools read an input more than once (layout, records,
        # checksum), and the second read of a pipe finds it empty; a FIFO without a writer blocks
        raise InputFormatError(path, "not a regular file (a pipe or device); the tools read an input more than "
                               "once: write it to a file first")
    chosen = detect_format(path) if fmt == "auto" else fmt
    if fmt == "auto":
        logger.info("%s: format %s (%s)", path, chosen, "a directory" if os.path.isdir(path) else "by extension")
    if chosen != "cnndm-stories" and os.path.isdir(path):
        raise InputFormatError(path, f"is a directory; format '{chosen}' reads a file")
    if chosen == "cnndm-stories":
        return iter_cnndm_stories(path, split, require_summary, url_lists_dir, stats or CnnDmStats())
    if chosen in ("jsonl", "csv"):
        check_text_input(path, chosen)
    if chosen == "jsonl":
        return iter_jsonl_records(path, fields, require_summary)
    if chosen == "csv":
        return iter_csv_records(path, fields, require_summary)
    return iter_parquet_records(path, fields, require_summary)
