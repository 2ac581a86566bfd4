"""CSV and TSV (``.csv``, ``.tsv``, ``.csv.gz``, ``.tsv.gz``): a header row, then one record per
row; read with the :mod:`csv` module, field size limit raised, streamed. No fairseq import.
"""
import csv
import gzip
import os
import sys
import zlib
from typing import Dict, Iterator, Optional

from ..records import BadRecordError, FieldNames
from .files import InputFormatError, file_stem, open_input_binary
from .layouts import check_columns, detect_layout, row_to_record


def _raise_csv_field_limit() -> None:
    # a news article is far longer than csv's default 128 KiB cell limit
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


class _DecodedLines:
    """Physical lines of a binary file decoded as UTF-8, one at a time (streaming).

    A line that is not valid UTF-8 is decoded with replacement characters and its number
    remembered, so the CSV row holding it becomes a BadRecordError rather than ending the file.
    A truncated or corrupt ``.gz`` ends the lines; ``read_error`` then says why.
    """

    def __init__(self, handle):
        self.handle = handle
        self.line_no = 0
        self.bad_lines: Dict[int, int] = {}  # line number -> byte offset of the first bad byte
        self.read_error: Optional[str] = None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.read_error is not None:
            raise StopIteration
        try:
            raw = next(self.handle)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            self.read_error = (f"the compressed file is truncated or corrupt after line {self.line_no} ({err}); "
                               "nothing after it can be read")
            raise StopIteration from None
        self.line_no += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            self.bad_lines[self.line_no] = err.start
            text = raw.decode("utf-8", errors="replace")
        if self.line_no == 1 and text.startswith("\ufeff"):  # Excel's UTF-8 byte order mark
            text = text[1:]
        return text


def iter_csv_records(path: str, fields: Optional[FieldNames], require_summary: bool) -> Iterator[object]:
    _raise_csv_field_limit()
    delimiter = "\t" if ".tsv" in os.path.basename(path).lower() else ","
    with open_input_binary(path) as handle:
        lines = _DecodedLines(handle)
        try:
            header = next(csv.reader(lines, delimiter=delimiter), None)
        except csv.Error as err:
            raise InputFormatError(f"{path}:1", f"unreadable CSV header: {err}") from None
    if lines.read_error is not None:
        raise InputFormatError(f"{path}:1", lines.read_error)
    if header is None:
        raise InputFormatError(path, "empty CSV file (no header row)")
    if lines.bad_lines:
        raise InputFormatError(f"{path}:1", f"invalid UTF-8 in the header at byte {lines.bad_lines[1]}")
    if fields is None:
        fields = detect_layout(header, path).fields
    synthesise = check_columns(header, fields, path, require_summary)
    stem = file_stem(path)

    def records() -> Iterator[object]:
        with open_input_binary(path) as handle:
            lines = _DecodedLines(handle)
            # strict: an unterminated quote is an error, not a field that silently swallows the rest of the file
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            next(reader)  # header, checked above
            row_index = 0
            while True:
                start_line = lines.line_no + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    if lines.read_error is not None:
                        yield BadRecordError(f"{path}:{lines.line_no + 1}", lines.read_error)
                    return
                except csv.Error as err:
                    if lines.read_error is not None:  # the row was cut by the truncation, not malformed
                        yield BadRecordError(f"{path}:{lines.line_no + 1}", lines.read_error)
                        return
                    # the reader cannot resynchronise after e.g. an unterminated quote: stop here
                    yield BadRecordError(f"{path}:{start_line}", f"CSV error: {err}; rest of file not read")
                    return
                if lines.read_error is not None:  # this row ends where the compressed data was cut
                    yield BadRecordError(f"{path}:{start_line}", lines.read_error)
                    return
                if not any(c.strip() for c in cells):
                    continue  # blank line
                location = f"{path}:{start_line}"
                bad = [n for n in range(start_line, lines.line_no + 1) if n in lines.bad_lines]
                if bad:
                    yield BadRecordError(f"{path}:{bad[0]}", f"invalid UTF-8 at byte {lines.bad_lines[bad[0]]}")
                    row_index += 1
                    continue
                if len(cells) != len(header):
                    yield BadRecordError(location, f"row has {len(cells)} cells, header has {len(header)}")
                    row_index += 1
                    continue
                row = dict(zip(header, cells))
                yield row_to_record(row, location, fields, require_summary,
                                     f"{stem}-{row_index}" if synthesise else None)
                row_index += 1

    return records()

