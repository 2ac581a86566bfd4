"""The column layouts of the corpora as distributed, and applying one: telling the layout from
the column names (or the first JSON object's keys), and turning a flat row (CSV or Parquet)
into a :class:`Record`. No fairseq import.

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
"""
import logging
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Union

from ..records import BadRecordError, FieldNames, Record, record_from_dict
from .files import InputFormatError, file_stem

logger = logging.getLogger(__name__)

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


def check_columns(columns: Sequence[str], fields: FieldNames, source: str, require_summary: bool) -> bool:
    """Raise if a needed column is missing; return whether ids must be synthesised."""
    names = set(columns)
    have = ", ".join(map(str, columns)) or "none"
    used = {fields.id, fields.document, fields.documents, fields.sections, fields.query, fields.summary, fields.title}
    twice = sorted({str(c) for c in columns if c in used and columns.count(c) > 1})
    if twice:
        # a row would keep one of the two cells silently
        raise InputFormatError(source, f"column {', '.join(repr(c) for c in twice)} appears more than once in the "
                                       "header; rename or drop the extra one")
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


def row_to_record(
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
            from .jsonl import JSONTextError, parse_json

            try:
                obj[key] = parse_json(obj[key])
            except JSONTextError as err:
                return BadRecordError(location, f"column '{key}' is not a JSON list: {err.reason}")
    try:
        return record_from_dict(obj, location, fields, require_summary)
    except BadRecordError as err:
        return err

