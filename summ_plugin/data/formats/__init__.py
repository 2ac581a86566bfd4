"""Real corpora as users have them -> the one internal :class:`Record` stream. No fairseq import.

Input formats (``--format``), one module each:

* ``jsonl`` (:mod:`.jsonl`) -- one JSON object per line (``.jsonl``, ``.json``, ``.jsonl.gz``,
  ``.json.gz``); also the one JSONL reader of summ_plugin and the canonical JSONL writer;
* ``csv`` (:mod:`.delimited`) -- a header row, then one record per row (``.csv``, ``.tsv``,
  ``.csv.gz``, ``.tsv.gz``);
* ``parquet`` (:mod:`.parquet`) -- streamed in batches (``.parquet``, ``.pq``);
* ``cnndm-stories`` (:mod:`.cnndm_stories`) -- the CNN/DailyMail ``.story`` files as
  distributed, split by the standard URL lists.

:mod:`.dispatch` picks the reader (:func:`iter_input_records`, :func:`detect_format`,
:func:`split_input_path`); :mod:`.layouts` holds the column layouts (canonical/XSum,
cnn_dailymail, billsum, arXiv/PubMed, article/abstract) and detects them; :mod:`.files` knows
the extensions and opens ``.gz`` files.

Every reader yields :class:`~summ_plugin.data.records.Record` or
:class:`~summ_plugin.data.records.BadRecordError` (a bad row does not stop the
stream; the caller decides with ``--on-bad-record``). Problems with the file as a whole (it does
not exist, a required column is missing, the layout cannot be told) raise
:class:`InputFormatError` when :func:`iter_input_records` is *called*, before any record is read.

To add a format: a module with an ``iter_<format>_records(path, fields, require_summary)`` that
raises :class:`InputFormatError` for the file as a whole and yields records/errors, its
extensions in :data:`.files.EXTENSIONS`, its name in :data:`FORMATS` and a branch in
:func:`iter_input_records`.
"""
from .cnndm_stories import (
    CNNDM_ARTICLE_JOINER, CNNDM_HIGHLIGHT_JOINER, CNNDM_URL_LISTS, CnnDmStats, cnndm_story_id, read_cnndm_story,
)
from .dispatch import FORMATS, SPLIT_STEMS, detect_format, field_names_from_options, iter_input_records, split_input_path
from .files import InputFormatError, file_stem
from .jsonl import JSONTextError, iter_jsonl_objects, iter_jsonl_records, load_json_file, parse_json, write_canonical_jsonl
from .layouts import LAYOUTS, Layout, cohan_to_canonical, detect_layout

__all__ = [
    "CNNDM_ARTICLE_JOINER", "CNNDM_HIGHLIGHT_JOINER", "CNNDM_URL_LISTS", "CnnDmStats", "cnndm_story_id",
    "read_cnndm_story",
    "FORMATS", "SPLIT_STEMS", "detect_format", "field_names_from_options", "iter_input_records", "split_input_path",
    "InputFormatError", "file_stem",
    "iter_jsonl_objects", "iter_jsonl_records", "write_canonical_jsonl", "JSONTextError", "parse_json", "load_json_file",
    "LAYOUTS", "Layout", "cohan_to_canonical", "detect_layout",
]
