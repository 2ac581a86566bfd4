"""Real corpora as users have them -> the one internal :class:`Record` stream. No fairseq import.

Input formats (``--format``):

* ``jsonl``  -- one JSON object per line (``.jsonl``, ``.json``, ``.jsonl.gz``, ``.json.gz``);
* ``csv``    -- a header row, then one record per row (``.csv``, ``.tsv``, ``.csv.gz``, ``.tsv.gz``),
  read with the :mod:`csv` module, field size limit raised, streamed;
* ``parquet`` -- streamed with ``pyarrow.parquet.ParquetFile.iter_batches`` (``.parquet``, ``.pq``);
* ``cnndm-stories`` -- the CNN/DailyMail ``.story`` files as distributed, split by the standard
  URL lists ``all_train.txt`` / ``all_val.txt`` / ``all_test.txt`` (a story is named by the SHA-1
  hex digest of its URL).

Column layouts are detected from the header (or first JSON object) unless named explicitly:

=================  ============  =============  ===========  ==========================
layout             id            document       summary      other
=================  ============  =============  ===========  ==========================
canonical / xsum   ``id``        ``document``   ``summary``  ``documents``, ``query``,
                                 (or ``documents``)           ``title``
cnn_dailymail      ``id``        ``article``    ``highlights``
billsum            (none)        ``text``       ``summary``  ``title`` -> Record.title
arxiv_pubmed       ``article_id`` ``sections``  ``abstract_text``  ``section_names``;
                                 (``article_text``)           Cohan et al. 2018, ``<S>`` tags removed
article_abstract   (none)        ``article``    ``abstract``  Hugging Face ``scientific_papers``
=================  ============  =============  ===========  ==========================

A ``sections`` field (``[{"title": ..., "text": ...}]``) may replace ``document`` in the
canonical layout: titles become heading lines that passage splitting uses as section
boundaries (features for the learned selector, not text for the model).

When the id column is absent (BillSum has none) ids are ``<file stem>-<row>``, the row counted
from 0 over the data rows, which is the index pandas and ``datasets`` give the same row.

Every reader yields :class:`Record` or :class:`BadRecordError` (a bad row does not stop the
stream; the caller decides with ``--on-bad-record``). Problems with the file as a whole (it does
not exist, a required column is missing, the layout cannot be told) raise
:class:`InputFormatError` when :func:`iter_input_records` is *called*, before any record is read.
"""
import csv
import gzip
import hashlib
import io
import json
import logging
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .records import BadRecordError, FieldNames, Record, iter_jsonl_objects, open_input_binary, record_from_dict
from ..safe_io import default_file_mode

logger = logging.getLogger(__name__)

FORMATS = ("auto", "jsonl", "csv", "parquet", "cnndm-stories")

# extension -> format; longest suffix wins (".jsonl.gz" before ".gz")
_EXTENSIONS = {
    ".jsonl": "jsonl", ".json": "jsonl", ".jsonl.gz": "jsonl", ".json.gz": "jsonl",
    ".csv": "csv", ".tsv": "csv", ".csv.gz": "csv", ".tsv.gz": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}

# split names as summ-prepare uses them -> file stems users have (HF names its dev split "validation")
SPLIT_STEMS = {
    "train": ("train",),
    "valid": ("valid", "validation", "val", "dev"),
    "test": ("test",),
}

# the standard CNN/DM URL lists (See et al. 2017, abisee/cnn-dailymail/url_lists)
CNNDM_URL_LISTS = {"train": "all_train.txt", "valid": "all_val.txt", "test": "all_test.txt"}
# where the .story files live under the root: flat, or as the two tarballs extract
_STORY_SUBDIRS = (
    "", "stories", os.path.join("cnn", "stories"), os.path.join("dailymail", "stories"),
    os.path.join("cnn_stories", "cnn", "stories"), os.path.join("dailymail_stories", "dailymail", "stories"),
)
_URL_LIST_SUBDIRS = ("", "url_lists", "lists")

# The end-of-sentence marks of See et al.'s make_datafiles.py (also used by fairseq's BART
# CNN/DM recipe and the Hugging Face cnn_dailymail builder): a line not ending in one of them
# gets " ." appended, because image captions and bullets often have no final period.
_END_TOKENS = (".", "!", "?", "...", "'", "`", '"', "\u2019", "\u201d", ")")
# article lines are joined with a space, as in make_datafiles.py and the HF export, so a story
# read here gives byte-identical text to the same story in a cnn_dailymail JSONL/CSV/Parquet export
CNNDM_ARTICLE_JOINER = " "
# highlights are joined one per line: ROUGE-Lsum needs the sentence boundaries
CNNDM_HIGHLIGHT_JOINER = "\n"


class InputFormatError(BadRecordError):
    """The input as a whole cannot be read (missing file/column, unknown layout); names the file."""


_SENTENCE_TAGS = re.compile(r"</?S>")


def cohan_to_canonical(obj: Dict, location: str) -> Dict:
    """One arXiv/PubMed object as Cohan et al. (2018) distribute it -> canonical keys.

    ``article_id``; ``sections`` (lists of sentences) under ``section_names`` become the
    ``sections`` field (headings for the selector, not text for the model); without them,
    ``article_text`` (a list of sentences) is the document. ``abstract_text`` (sentences
    wrapped in ``<S> ... </S>``) is the summary, one sentence per line. Sentences are kept
    one per line: the corpora are lowercased and tokenized ("we study x ."), which a
    sentence splitter cannot cut, but every line break is a boundary.
    """
    out: Dict[str, object] = {"id": obj.get("article_id")}
    names, sections = obj.get("section_names"), obj.get("sections")

    def sentences(value, key):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRecordError(location, f"field '{key}' must be a list of sentence strings", str(out["id"]))
        return value

    if isinstance(sections, list) and sections:
        if not isinstance(names, list) or len(names) != len(sections):
            raise BadRecordError(location, "fields 'section_names' and 'sections' must be lists of the same length",
                                 str(out["id"]))
        out["sections"] = [{"title": name if isinstance(name, str) else "",
                            "text": "\n".join(s.strip() for s in sentences(section, f"sections[{i}]"))}
                           for i, (name, section) in enumerate(zip(names, sections))]
    elif obj.get("article_text") is not None:
        out["document"] = "\n".join(s.strip() for s in sentences(obj["article_text"], "article_text"))
    if obj.get("abstract_text") is not None:
        abstract = [" ".join(_SENTENCE_TAGS.sub(" ", s).split())
                    for s in sentences(obj["abstract_text"], "abstract_text")]
        out["summary"] = "\n".join(s for s in abstract if s)
    return out


@dataclass(frozen=True)
class Layout:
    name: str
    fields: FieldNames
    # objects of this layout are rewritten to canonical keys first (JSONL only)
    convert: Optional[Callable[[Dict, str], Dict]] = None
    # the layout has no id column: ids are made from the file name and row
    synthesise_ids: bool = False


LAYOUTS = (
    Layout("canonical", FieldNames()),  # also XSum's export: id / document / summary
    Layout("cnn_dailymail", FieldNames(id="id", document="article", summary="highlights")),
    Layout("billsum", FieldNames(id="id", document="text", summary="summary", title="title"), synthesise_ids=True),
    # arXiv / PubMed as Cohan et al. (2018) distribute them
    Layout("arxiv_pubmed", FieldNames(), convert=cohan_to_canonical),
    # the flat string layout of the same corpora (Hugging Face's scientific_papers)
    Layout("article_abstract", FieldNames(id="id", document="article", summary="abstract"), synthesise_ids=True),
)


@dataclass
class CnnDmStats:
    """What a pass over CNN/DM stories found; filled in while the records are read."""

    urls: int = 0
    read: int = 0
    missing: List[str] = field(default_factory=list)        # URLs whose story file is not there
    empty_article: List[str] = field(default_factory=list)  # story ids
    no_highlights: List[str] = field(default_factory=list)  # story ids
    unreadable: List[str] = field(default_factory=list)     # story ids (invalid UTF-8)

    def summary_line(self) -> str:
        return (
            f"{self.urls} URLs, {self.read} stories usable, {len(self.missing)} missing, "
            f"{len(self.empty_article)} with an empty article, {len(self.no_highlights)} without "
            f"highlights, {len(self.unreadable)} not valid UTF-8"
        )


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


# ---------------------------------------------------------------------------------------------
# paths and formats


def _suffix(path: str) -> str:
    name = os.path.basename(path).lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return ""


def file_stem(path: str) -> str:
    """``data/train.jsonl.gz`` -> ``train`` (used for synthesised ids)."""
    name = os.path.basename(path.rstrip(os.sep))
    ext = _suffix(name)
    return name[: len(name) - len(ext)] if ext else os.path.splitext(name)[0]


def detect_format(path: str) -> str:
    """The format ``auto`` means for ``path``: a directory is CNN/DM stories, a file goes by extension."""
    if os.path.isdir(path):
        return "cnndm-stories"
    ext = _suffix(path)
    if not ext:
        raise InputFormatError(
            path,
            "cannot tell the input format from the file name; use --format "
            f"jsonl|csv|parquet|cnndm-stories (known extensions: {', '.join(sorted(_EXTENSIONS))})",
        )
    return _EXTENSIONS[ext]


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
        return root if _find_url_list(root, split, None) is not None else None
    exts = [e for e, f in _EXTENSIONS.items() if fmt == "auto" or f == fmt]
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
    if fmt == "auto" and _find_url_list(root, split, None) is not None:
        return root
    return None


# ---------------------------------------------------------------------------------------------
# column layouts


def detect_layout(columns: Sequence[str], source: str) -> Layout:
    """Pick the column layout from the column names (or the first JSON object's keys)."""
    names = set(columns)
    by_name = {layout.name: layout for layout in LAYOUTS}
    if "article_text" in names or "abstract_text" in names:
        layout = by_name["arxiv_pubmed"]
    elif names & {"document", "documents", "sections"}:
        layout = by_name["canonical"]
    elif "article" in names and "abstract" in names:
        layout = by_name["article_abstract"]
    elif "article" in names:
        layout = by_name["cnn_dailymail"]
    elif "text" in names:
        layout = by_name["billsum"]
    else:
        raise InputFormatError(
            source,
            f"cannot tell the column layout from columns [{', '.join(map(str, columns))}]; expected "
            "id/document(s)|sections/summary (canonical, xsum), id/article/highlights (cnn_dailymail), "
            "text/summary/title (billsum), article_id/article_text/abstract_text/section_names/sections "
            "(arXiv/PubMed) or article/abstract; name the columns with --document-field/--summary-field/--id-field",
        )
    logger.info("%s: columns [%s] -> %s layout", source, ", ".join(map(str, columns)), layout.name)
    return layout


def _check_columns(columns: Sequence[str], fields: FieldNames, source: str, require_summary: bool) -> bool:
    """Raise if a needed column is missing; return whether ids must be synthesised."""
    names = set(columns)
    have = ", ".join(map(str, columns)) or "none"
    if fields.document not in names and fields.documents not in names:
        raise InputFormatError(
            source, f"no document column '{fields.document}' (or '{fields.documents}'); columns are: {have}"
        )
    if require_summary and fields.summary not in names:
        raise InputFormatError(source, f"no summary column '{fields.summary}'; columns are: {have}")
    synthesise = fields.id not in names
    if synthesise:
        logger.info(
            "%s: no id column '%s'; ids are '%s-<row>' with rows counted from 0",
            source, fields.id, file_stem(source),
        )
    return synthesise


def _row_to_record(
    row: Dict[str, object],
    location: str,
    fields: FieldNames,
    require_summary: bool,
    synthetic_id: Optional[str],
) -> Union[Record, BadRecordError]:
    """A flat row (CSV or Parquet) -> Record; empty optional cells mean "absent"."""
    obj: Dict[str, object] = {}
    for key in (fields.id, fields.document, fields.documents, fields.sections, fields.query, fields.summary,
                fields.title):
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, str) and not value.strip() and key in (fields.query, fields.title, fields.documents):
            continue
        if key == fields.summary and isinstance(value, str) and not value.strip() and not require_summary:
            continue
        obj[key] = value
    if synthetic_id is not None and fields.id not in obj:
        obj[fields.id] = synthetic_id
    # a CSV cell cannot hold a list: a 'documents' or 'sections' column holds one as JSON text
    for key in (fields.documents, fields.sections):
        if isinstance(obj.get(key), str):
            try:
                obj[key] = json.loads(obj[key])
            except json.JSONDecodeError as err:
                return BadRecordError(location, f"column '{key}' is not a JSON list: {err.msg}")
    try:
        return record_from_dict(obj, location, fields, require_summary)
    except BadRecordError as err:
        return err


# ---------------------------------------------------------------------------------------------
# JSONL


def _first_json_object(path: str) -> Optional[dict]:
    lines = iter_jsonl_objects(path)
    try:
        return next((obj for _, obj in lines if isinstance(obj, dict)), None)
    finally:
        lines.close()


def _iter_jsonl(path: str, fields: Optional[FieldNames], require_summary: bool) -> Iterator[object]:
    # JSONL is checked per line (a bad first line is a bad record, not a bad file, as in
    # iter_jsonl_records); the first object only picks the layout when none is named.
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


# ---------------------------------------------------------------------------------------------
# CSV


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
    """

    def __init__(self, handle):
        self.handle = handle
        self.line_no = 0
        self.bad_lines: Dict[int, int] = {}  # line number -> byte offset of the first bad byte

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = next(self.handle)
        self.line_no += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            self.bad_lines[self.line_no] = err.start
            text = raw.decode("utf-8", errors="replace")
        if self.line_no == 1 and text.startswith("\ufeff"):  # Excel's UTF-8 byte order mark
            text = text[1:]
        return text


def _iter_csv(path: str, fields: Optional[FieldNames], require_summary: bool) -> Iterator[object]:
    _raise_csv_field_limit()
    delimiter = "\t" if ".tsv" in os.path.basename(path).lower() else ","
    with open_input_binary(path) as handle:
        lines = _DecodedLines(handle)
        try:
            header = next(csv.reader(lines, delimiter=delimiter), None)
        except csv.Error as err:
            raise InputFormatError(f"{path}:1", f"unreadable CSV header: {err}") from None
    if header is None:
        raise InputFormatError(path, "empty CSV file (no header row)")
    if lines.bad_lines:
        raise InputFormatError(f"{path}:1", f"invalid UTF-8 in the header at byte {lines.bad_lines[1]}")
    if fields is None:
        fields = detect_layout(header, path).fields
    synthesise = _check_columns(header, fields, path, require_summary)
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
                    return
                except csv.Error as err:
                    # the reader cannot resynchronise after e.g. an unterminated quote: stop here
                    yield BadRecordError(f"{path}:{start_line}", f"CSV error: {err}; rest of file not read")
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
                yield _row_to_record(row, location, fields, require_summary,
                                     f"{stem}-{row_index}" if synthesise else None)
                row_index += 1

    return records()


# ---------------------------------------------------------------------------------------------
# Parquet


def _iter_parquet(path: str, fields: Optional[FieldNames], require_summary: bool,
                  batch_size: int = 256) -> Iterator[object]:
    import pyarrow.parquet as pq  # optional heavy dependency: only when a Parquet file is read

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid / OSError with its own message
        raise InputFormatError(path, f"not a readable Parquet file: {err}") from None
    columns = list(parquet.schema_arrow.names)
    if fields is None:
        fields = detect_layout(columns, path).fields
    synthesise = _check_columns(columns, fields, path, require_summary)
    wanted = [c for c in dict.fromkeys(
        (fields.id, fields.document, fields.documents, fields.query, fields.summary, fields.title)) if c in columns]
    stem = file_stem(path)

    def records() -> Iterator[object]:
        row_index = 0
        for batch in parquet.iter_batches(batch_size=batch_size, columns=wanted):
            for row in batch.to_pylist():
                yield _row_to_record(row, f"{path}:row {row_index}", fields, require_summary,
                                     f"{stem}-{row_index}" if synthesise else None)
                row_index += 1

    return records()


# ---------------------------------------------------------------------------------------------
# CNN/DailyMail stories


def cnndm_story_id(url: str) -> str:
    """The story's name: SHA-1 hex digest of its URL (as in make_datafiles.py and HF's ``id``)."""
    return hashlib.sha1(url.strip().encode("utf-8")).hexdigest()


def _fix_missing_period(line: str) -> str:
    if "@highlight" in line or not line or line.endswith(_END_TOKENS):
        return line
    return line + " ."


def read_cnndm_story(path: str) -> Tuple[str, List[str]]:
    """``(article, highlights)`` of one ``.story`` file, by the usual rules.

    As See et al.'s ``make_datafiles.py`` (3.0.0 variant, as used for fairseq's BART recipe and
    the Hugging Face ``cnn_dailymail`` builder): lines are stripped, blank lines dropped, a line
    without final punctuation gets " ." appended, the line after each ``@highlight`` is a highlight,
    every other line is article text; article lines are joined with a space. Not done: lower-casing
    and Stanford tokenisation (the old 1.0.0 variant), and the "(CNN) --" bylines stay in the text
    (HF keeps them too, so results compare with published numbers).
    Invalid UTF-8 raises :class:`BadRecordError` naming the file.
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRecordError(path, f"invalid UTF-8 at byte {err.start}") from None
    article_lines: List[str] = []
    highlights: List[str] = []
    next_is_highlight = False
    for line in text.splitlines():
        line = _fix_missing_period(line.strip())
        if not line:
            continue
        if line.startswith("@highlight"):
            next_is_highlight = True
        elif next_is_highlight:
            highlights.append(line)
        else:
            article_lines.append(line)
    return CNNDM_ARTICLE_JOINER.join(article_lines), highlights


def _find_url_list(root: str, split: str, url_lists_dir: Optional[str]) -> Optional[str]:
    name = CNNDM_URL_LISTS[split]
    places = [url_lists_dir] if url_lists_dir else [os.path.join(root, sub) for sub in _URL_LIST_SUBDIRS]
    for place in places:
        candidate = os.path.join(place, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _index_stories(root: str) -> Dict[str, str]:
    """story id -> path for every ``.story`` file in the usual places under ``root`` (one scandir each)."""
    index: Dict[str, str] = {}
    for sub in _STORY_SUBDIRS:
        directory = os.path.join(root, sub) if sub else root
        if not os.path.isdir(directory):
            continue
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".story") and entry.is_file():
                    index.setdefault(entry.name[: -len(".story")], entry.path)
    return index


def _story_record(story_id: str, path: str, require_summary: bool, stats: CnnDmStats) -> object:
    try:
        article, highlights = read_cnndm_story(path)
    except BadRecordError as err:
        err.record_id = story_id
        stats.unreadable.append(story_id)
        return err
    if not article.strip():
        stats.empty_article.append(story_id)
        return BadRecordError(path, "empty article", story_id)
    if not highlights and require_summary:
        stats.no_highlights.append(story_id)
        return BadRecordError(path, "no highlights", story_id)
    stats.read += 1
    summary = CNNDM_HIGHLIGHT_JOINER.join(highlights) if highlights else None
    return Record(id=story_id, documents=[article], summary=summary, location=path)


def _iter_cnndm_stories(
    root: str, split: Optional[str], require_summary: bool,
    url_lists_dir: Optional[str], stats: CnnDmStats,
) -> Iterator[object]:
    if not os.path.isdir(root):
        raise InputFormatError(root, "CNN/DM stories root is not a directory")
    if url_lists_dir and not os.path.isdir(url_lists_dir):
        raise InputFormatError(url_lists_dir, "URL lists directory does not exist")
    index = _index_stories(root)
    if not index:
        looked = ", ".join(os.path.join(root, s) if s else root for s in _STORY_SUBDIRS)
        raise InputFormatError(root, f"no .story files found (looked in {looked})")
    if split is None:
        logger.info("%s: no split given: all %d stories, in name order, no URL list", root, len(index))
        url_list = None
    else:
        if split not in CNNDM_URL_LISTS:
            raise InputFormatError(root, f"unknown split '{split}' (expected one of {', '.join(CNNDM_URL_LISTS)})")
        url_list = _find_url_list(root, split, url_lists_dir)
        if url_list is None:
            where = url_lists_dir or " or ".join(os.path.join(root, s) if s else root for s in _URL_LIST_SUBDIRS)
            raise InputFormatError(root, f"URL list {CNNDM_URL_LISTS[split]} for split '{split}' not found in {where}")
        logger.info("%s: split '%s' from %s (%d story files indexed)", root, split, url_list, len(index))

    def records() -> Iterator[object]:
        if url_list is None:
            for story_id in sorted(index):
                stats.urls += 1
                yield _story_record(story_id, index[story_id], require_summary, stats)
        else:
            with open(url_list, "rb") as handle:
                for line_no, raw in enumerate(handle, start=1):
                    location = f"{url_list}:{line_no}"
                    try:
                        url = raw.decode("utf-8").strip()
                    except UnicodeDecodeError as err:
                        yield BadRecordError(location, f"invalid UTF-8 at byte {err.start}")
                        continue
                    if not url:
                        continue
                    stats.urls += 1
                    story_id = cnndm_story_id(url)
                    path = index.get(story_id)
                    if path is None:
                        stats.missing.append(url)
                        yield BadRecordError(location, f"story missing for URL {url} (expected {story_id}.story)", story_id)
                        continue
                    yield _story_record(story_id, path, require_summary, stats)
        level = logging.WARNING if (stats.missing or stats.empty_article or stats.no_highlights or stats.unreadable) else logging.INFO
        logger.log(level, "%s%s: %s", root, f" ({split})" if split else "", stats.summary_line())
        for url in stats.missing[:10]:
            logger.log(level, "  story missing for URL %s", url)
        if len(stats.missing) > 10:
            logger.log(level, "  ... and %d more missing stories", len(stats.missing) - 10)

    return records()


# ---------------------------------------------------------------------------------------------
# the entry points summ-prepare uses


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
    chosen = detect_format(path) if fmt == "auto" else fmt
    if fmt == "auto":
        logger.info("%s: format %s (%s)", path, chosen, "a directory" if os.path.isdir(path) else "by extension")
    if chosen != "cnndm-stories" and os.path.isdir(path):
        raise InputFormatError(path, f"is a directory; format '{chosen}' reads a file")
    if chosen == "cnndm-stories":
        return _iter_cnndm_stories(path, split, require_summary, url_lists_dir, stats or CnnDmStats())
    if chosen == "jsonl":
        return _iter_jsonl(path, fields, require_summary)
    if chosen == "csv":
        return _iter_csv(path, fields, require_summary)
    return _iter_parquet(path, fields, require_summary)


def write_canonical_jsonl(records: Iterable[object], out_path: str, progress: bool = True) -> int:
    """Write records as canonical JSONL (UTF-8, one object per line); atomic; returns the count.

    A :class:`BadRecordError` in the stream is raised (nothing is written), so passing the raw
    output of :func:`iter_input_records` gives ``--on-bad-record error``; filter it first to skip.
    ``out_path`` ending in ``.gz`` is gzip-compressed.
    """
    from tqdm import tqdm

    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=os.path.basename(out_path) + ".", suffix=".tmp")
    os.chmod(tmp_path, default_file_mode())  # mkstemp's 0600 would survive the rename
    count = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            sink = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if out_path.lower().endswith(".gz") else raw
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
            if sink is not raw:
                raw.flush()
        os.replace(tmp_path, out_path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    logger.info("wrote %d records to %s", count, out_path)
    return count
