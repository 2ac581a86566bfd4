"""Input files by name: which extension means which format, a file's stem, opening it (``.gz``
decompressed on the fly), and the error for an input that cannot be read as a whole.
No fairseq import.
"""
import gzip
import os

from ..records import BadRecordError

# extension -> format; longest suffix wins (".jsonl.gz" before ".gz")
EXTENSIONS = {
    ".jsonl": "jsonl", ".json": "jsonl", ".jsonl.gz": "jsonl", ".json.gz": "jsonl",
    ".csv": "csv", ".tsv": "csv", ".csv.gz": "csv", ".tsv.gz": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}


class InputFormatError(BadRecordError):
    """The input as a whole cannot be read (missing file/column, unknown layout); names the file."""


def known_suffix(path: str) -> str:
    """The longest known extension ``path`` ends with (``.jsonl.gz``), or ``""``."""
    name = os.path.basename(path).lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return ""


def file_stem(path: str) -> str:
    """``data/train.jsonl.gz`` -> ``train`` (used for synthesised ids)."""
    name = os.path.basename(path.rstrip(os.sep))
    ext = known_suffix(name)
    return name[: len(name) - len(ext)] if ext else os.path.splitext(name)[0]


def open_input_binary(path: str):
    """Open a raw input file for reading bytes; ``.gz`` files are decompressed on the fly."""
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")
