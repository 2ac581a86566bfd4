"""Parquet (``.parquet``, ``.pq``): streamed in batches with ``pyarrow.parquet.ParquetFile.iter_batches``,
only the needed columns; pyarrow is imported when a Parquet file is read. No fairseq import.
"""
from typing import Iterator, Optional

from ..records import FieldNames
from .files import InputFormatError, file_stem
from .layouts import check_columns, detect_layout, row_to_record


def iter_parquet_records(path: str, fields: Optional[FieldNames], require_summary: bool,
                  batch_size: int = 256) -> Iterator[object]:
    import pyarrow.parquet as pq  # optional heavy dependency: only when a Parquet file is read

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid / OSError with its own message
        raise InputFormatError(path, f"not a readable Parquet file: {err}") from None
    columns = list(parquet.schema_arrow.names)
    if fields is None:
        fields = detect_layout(columns, path).fields
    synthesise = check_columns(columns, fields, path, require_summary)
    wanted = [c for c in dict.fromkeys(
        (fields.id, fields.document, fields.documents, fields.query, fields.summary, fields.title)) if c in columns]
    stem = file_stem(path)

    def records() -> Iterator[object]:
        row_index = 0
        for batch in parquet.iter_batches(batch_size=batch_size, columns=wanted):
            for row in batch.to_pylist():
                yield row_to_record(row, f"{path}:row {row_index}", fields, require_summary,
                                     f"{stem}-{row_index}" if synthesise else None)
                row_index += 1

    return records()

