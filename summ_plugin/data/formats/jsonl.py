"""JSONL (``.jsonl``, ``.json``, ``.jsonl.gz``, ``.json.gz``): one JSON object per line.

:func:`iter_jsonl_objects` is the one JSONL reader of summ_plugin: every JSONL file the tools
read (inputs, hypotheses and references, ``*.meta.jsonl``) goes through it, so a bad line
always reads ``FILE:LINE: reason``. :func:`parse_json` / :func:`load_json_file` are the one way
JSON text is decoded (a line, an option's value, a whole file such as encoder.json): malformed
JSON, nesting too deep and integers longer than Python's int-conversion limit (4300 digits)
all become a :class:`JSONTextError` with one reason, never a traceback. :func:`iter_jsonl_records` turns its objects into
:class:`Record`; :func:`write_canonical_jsonl` writes records back in the canonical layout.
No fairseq import.
"""
import gzip
import io
import json
import logging
import os
import re
import sys
import zlib
from typing import Iterable, Iterator, Optional, Tuple

from ...atomic import atomic_output
from ...errors import UserError
from ..records import BadRecordError, FieldNames, Record, record_from_dict
from .files import InputFormatError, check_text_input, file_stem, open_input_binary
from .layouts import detect_layout

logger = logging.getLogger(__name__)


class JSONTextError(UserError, ValueError):
    """Text that is not JSON Python can decode. ``reason``: one phrase; ``line``: 1-based line
    of the text where known. ``str()`` is ``[PATH[:LINE]: ]reason``."""

    def __init__(self, reason: str, line: Optional[int] = None, path: Optional[str] = None):
        self.reason, self.line, self.path = reason, line, path
        super().__init__(f"{self.where}: {reason}" if path else reason)

    @property
    def detail(self) -> str:
        """The reason with its line: ``malformed JSON: Expecting value, line 3``."""
        return f"{self.reason}, line {self.line}" if self.line else self.reason

    @property
    def where(self) -> str:
        """``PATH:LINE`` (or ``PATH``) of the error."""
        return f"{self.path}:{self.line}" if self.line else str(self.path)


def _int_limit() -> int:
    return sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300


class _DuplicateKeyError(JSONTextError):
    """A JSON object names a key twice (json.loads would keep the last value silently); raised
    inside the decoder with the key, turned into a JSONTextError with the reason by parse_json."""


def _object_without_duplicate_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object_without_duplicate_keys)


def parse_json(text: str, unique_keys: bool = False):
    """``json.loads(text)``, with every way it fails as a :class:`JSONTextError`. ``unique_keys``:
    an object naming a key twice is refused too (records: json.loads would keep the last value)."""
    try:
        return _DECODER.decode(text) if unique_keys else json.loads(text)
    except _DuplicateKeyError as err:
        raise JSONTextError(f"key '{err.args[0]}' given twice in one object") from None
    except json.JSONDecodeError as err:
        raise JSONTextError(f"malformed JSON: {err.msg}", err.lineno) from None
    except RecursionError:
        raise JSONTextError("JSON nested too deeply") from None
    except ValueError:
        # int() refuses integers longer than the interpreter's limit (CVE-2020-10735)
        limit = _int_limit()
        if not limit:
            raise
        match = re.search(r"\d{%d,}" % (limit + 1), text)
        line = text.count("\n", 0, match.start()) + 1 if match else None
        raise JSONTextError(f"a number with more than {limit} digits (Python's limit for integers)", line) from None


def load_json_file(path: str):
    """The decoded JSON file at ``path``: a :class:`JSONTextError` names the file (and line) for
    invalid UTF-8 or anything :func:`parse_json` refuses, and for a path that is not a regular
    file (a FIFO would block); OSError (missing, a directory, unreadable) is the caller's."""
    if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
        raise JSONTextError("not a regular file (a pipe or device)", None, path)
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JSONTextError(f"invalid UTF-8 at byte {err.start}", data.count(b"\n", 0, err.start) + 1, path) from None
    try:
        return parse_json(text)
    except JSONTextError as err:
        raise JSONTextError(err.reason, err.line, path) from None


def _lines_or_read_error(handle, path: str) -> Iterator[object]:
    """The file's lines; a truncated or corrupt .gz ends the stream with a BadRecordError
    after the last complete line instead of an EOFError/zlib traceback."""
    line_no = 0
    try:
        for raw in handle:
            line_no += 1
            yield raw
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        yield BadRecordError(
            f"{path}:{line_no + 1}",
            f"the compressed file is truncated or corrupt after line {line_no} ({err}); nothing after it can be read",
        )


def iter_jsonl_objects(path: str) -> Iterator[Tuple[str, object]]:
    """Yield ``(location, decoded object)`` for each non-blank line of a JSONL file (or .jsonl.gz);
    ``location`` is ``FILE:LINE`` (lines counted from 1, blank ones included).

    Invalid UTF-8 and malformed JSON yield a :class:`BadRecordError` naming the line in place
    of the object; the caller decides whether to stop or skip (the stream goes on after it).
    A truncated .gz yields one last error after its last complete line. Blank lines are skipped.
    A key given twice in one object is an error (which value was meant cannot be told); a UTF-8
    byte order mark before the first line is dropped. Gzip, Parquet or UTF-16 content raises
    :class:`InputFormatError` (check_text_input).
    """
    check_text_input(path, "jsonl")
    with open_input_binary(path) as handle:
        for line_no, raw in enumerate(_lines_or_read_error(handle, path), start=1):
            if isinstance(raw, BadRecordError):
                yield raw.location, raw
                return
            location = f"{path}:{line_no}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield location, BadRecordError(location, f"invalid UTF-8 at byte {err.start}")
                continue
            if line_no == 1 and text.startswith("\ufeff"):  # a byte order mark (Windows tools write one)
                text = text[1:]
            if not text.strip():
                continue
            try:
                obj = parse_json(text, unique_keys=True)
            except JSONTextError as err:
                yield location, BadRecordError(location, err.reason)
                continue
            yield location, obj


def _first_json_object(path: str) -> Optional[dict]:
    lines = iter_jsonl_objects(path)
    try:
        return next((obj for _, obj in lines if isinstance(obj, dict)), None)
    finally:
        lines.close()


def iter_jsonl_records(
    path: str, fields: Optional[FieldNames] = FieldNames(), require_summary: bool = True
) -> Iterator[object]:
    """A :class:`Record` or a :class:`BadRecordError` for each object of a JSONL file.

    ``fields`` names the keys (canonical ones by default); ``None`` picks the layout from the
    first object. Errors are yielded, not raised, so that ``--on-bad-record skip`` can count
    them and go on while ``error`` stops at the first one; duplicate ids are the caller's
    check since they span the whole split.
    """
    # JSONL is checked per line (a bad first line is a bad record, not a bad file); the first
    # object only picks the layout when none is named.
    synthesise = False
    convert = None
    if fields is None:
        first = _first_json_object(path)
        fields = FieldNames()
        if first is not None:
            try:
                layout = detect_layout(list(first), path)
            except InputFormatError as err:
                logger.warning("%s; reading it with the canonical field names", err)
            else:
                fields = layout.fields
                convert = layout.convert
                # only a layout that has no id (BillSum) gets synthesised ids; elsewhere a
                # missing id is the record's error
                synthesise = layout.synthesise_ids and fields.id not in first
                if synthesise:
                    logger.info("%s: no '%s' key; ids are '%s-<n>', n counted from 0 over the objects",
                                path, fields.id, file_stem(path))
    stem = file_stem(path)

    def records() -> Iterator[object]:
        for index, (location, obj) in enumerate(iter_jsonl_objects(path)):
            if isinstance(obj, BadRecordError):
                yield obj
                continue
            if synthesise and isinstance(obj, dict) and fields.id not in obj:
                obj = {**obj, fields.id: f"{stem}-{index}"}
            try:
                if convert is not None and isinstance(obj, dict):
                    obj = convert(obj, location)
                yield record_from_dict(obj, location, fields, require_summary)
            except BadRecordError as err:
                yield err

    return records()


def write_canonical_jsonl(records: Iterable[object], out_path: str, progress: bool = True) -> int:
    """Write records as canonical JSONL (UTF-8, one object per line); atomic; returns the count.

    A :class:`BadRecordError` in the stream is raised (nothing is written), so passing the raw
    output of :func:`~summ_plugin.data.formats.iter_input_records` gives ``--on-bad-record
    error``; filter it first to skip. ``out_path`` ending in ``.gz`` is gzip-compressed.
    """
    from tqdm import tqdm

    count = 0
    with atomic_output(out_path, "wb") as raw:
        # mtime=0: the same records give the same bytes
        sink = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if out_path.lower().endswith(".gz") else raw
        # leaving this block finishes the text (and the gzip trailer); atomic_output then publishes it
        with io.TextIOWrapper(sink, encoding="utf-8", newline="\n") as text:
            for item in tqdm(records, desc=f"writing {os.path.basename(out_path)}", unit=" records",
                             disable=not progress):
                if isinstance(item, BaseException):
                    raise item
                if not isinstance(item, Record):
                    raise TypeError(f"expected a Record, got {type(item).__name__}")
                text.write(json.dumps(item.to_json(), ensure_ascii=False))
                text.write("\n")
                count += 1
    logger.info("wrote %d records to %s", count, out_path)
    return count
