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


# how much of a text input is looked at for what it is (magic bytes, line endings)
_SNIFF_BYTES = 65536

# what a file's first bytes say it is, when that is not text: name -> (magic, what to do)
_BINARY_KINDS = (
    (b"\x1f\x8b", "gzip-compressed", "name it with a .gz extension (e.g. train.jsonl.gz) or decompress it"),
    (b"PAR1", "a Parquet file", "name it .parquet or pass --format parquet"),
    (b"PK\x03\x04", "a ZIP archive (or a spreadsheet)", "extract it, or export the sheet as CSV"),
    (b"\xff\xfe\x00\x00", "UTF-32 text", "re-encode it as UTF-8"),
    (b"\x00\x00\xfe\xff", "UTF-32 text", "re-encode it as UTF-8"),
    (b"\xff\xfe", "UTF-16 text", "re-encode it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)"),
    (b"\xfe\xff", "UTF-16 text", "re-encode it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)"),
)


def check_text_input(path: str, fmt: str) -> None:
    """Raise :class:`InputFormatError` when a file read as text (``jsonl``, ``csv``) is not
    UTF-8 text: gzip, Parquet or ZIP content under a text name, UTF-16/32, a ``.gz`` name
    whose content is not gzip, or lines that end with a carriage return only. Without this the
    reader reports a misleading first-line error ("invalid UTF-8 at byte 1", "new-line character
    seen in unquoted field") or reads the whole file as one line."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as err:
        raise InputFormatError(path, f"cannot be read: {err.strerror or err}") from None
    compressed = path.lower().endswith(".gz")
    if compressed:
        if head and not head.startswith(b"\x1f\x8b"):
            raise InputFormatError(path, "is named .gz but is not gzip-compressed; remove the .gz extension "
                                         "or compress it")
        return
    for magic, kind, remedy in _BINARY_KINDS:
        if head.startswith(magic):
            raise InputFormatError(path, f"is {kind}, not UTF-8 {fmt.upper()} text; {remedy}")
    if b"\r" in head and b"\n" not in head:
        # the readers split lines at \n: the whole file would be one line (one malformed record)
        raise InputFormatError(path, "lines end with a carriage return only (classic Mac OS line endings); "
                                     "convert them to \\n first (e.g. tr '\\r' '\\n')")
