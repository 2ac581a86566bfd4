"""The one internal record format, and validating a decoded object into it. No fairseq import.

Every input layout (JSONL with configurable field names, CSV, Parquet, CNN/DM stories)
ends up as a stream of :class:`Record` (read by :mod:`summ_plugin.data.formats`); retrieval
and binarization only ever see these.
Errors name the file and line (or row) so that a user can fix the input.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from summ_plugin.errors import UserError


class BadRecordError(UserError, ValueError):
    """A raw record that cannot be used; ``location`` is ``file:line`` (or ``file:row N``)."""

    def __init__(self, location: str, reason: str, record_id: Optional[str] = None):
        self.location = location
        self.reason = reason
        self.record_id = record_id
        super().__init__(f"{location}: {reason}")

    def __reduce__(self):
        # the default pickling calls __init__ with the message only; worker pools need this
        return (type(self), (self.location, self.reason, self.record_id))


@dataclass
class FieldNames:
    """Which keys of a raw object hold which part of a record."""

    id: str = "id"
    document: str = "document"
    documents: str = "documents"
    query: str = "query"
    summary: str = "summary"
    title: str = "title"
    # [{"title": heading, "text": body}, ...]: one structured document (see sections_to_document)
    sections: str = "sections"


@dataclass
class Record:
    id: str
    documents: List[str]
    # the (first) reference summary: the valid/test target
    summary: Optional[str] = None
    query: Optional[str] = None
    title: Optional[str] = None
    # where it came from, e.g. "data/train.jsonl:17"; used in error messages and skip lists
    location: str = field(default="", compare=False)
    # references after the first, when ``summary`` was given as a list of strings
    more_references: Tuple[str, ...] = ()

    @property
    def references(self) -> List[str]:
        """Every reference summary (the first is ``summary``); empty without a summary."""
        return [] if self.summary is None else [self.summary, *self.more_references]

    def to_json(self) -> Dict:
        out = {"id": self.id}
        if len(self.documents) == 1:
            out["document"] = self.documents[0]
        else:
            out["documents"] = list(self.documents)
        for key in ("query", "title", "summary"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.more_references:
            out["summary"] = self.references
        return out


def _optional_text(obj: Dict, key: str, location: str) -> Optional[str]:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecordError(location, f"field '{key}' must be a string, got {type(value).__name__}")
    return value


def _summaries(obj: Dict, key: str, location: str) -> Tuple[Optional[str], Tuple[str, ...]]:
    """The summary field: a string (one reference) or a non-empty list of strings (several
    references, e.g. four human responses to one question). Returns (first, the others)."""
    value = obj.get(key)
    if isinstance(value, list):
        if not value or not all(isinstance(item, str) for item in value):
            raise BadRecordError(location, f"field '{key}' must be a string or a non-empty list of strings "
                                           f"(one reference each)")
        return value[0], tuple(value[1:])
    return _optional_text(obj, key, location), ()


def sections_to_document(sections: object, location: str, key: str = "sections") -> str:
    """A ``sections`` list (``[{"title": ..., "text": ...}, ...]``) -> one document text.

    Each title becomes a Markdown heading line (``# Title``), which passage splitting reads
    as a section boundary and never as text for the model; bodies are separated by blank lines.
    """
    if not isinstance(sections, list):
        raise BadRecordError(location, f"field '{key}' must be a list of {{\"title\": ..., \"text\": ...}} objects")
    blocks = []
    for number, section in enumerate(sections):
        if not isinstance(section, dict) or not isinstance(section.get("text"), str) or \
                not isinstance(section.get("title", ""), (str, type(None))):
            raise BadRecordError(location, f"field '{key}' item {number}: expected an object with a string "
                                           f"'text' and an optional string 'title'")
        title = " ".join((section.get("title") or "").split())
        if title:
            blocks.append("# " + title)
        if section["text"].strip():
            blocks.append(section["text"].strip())
    return "\n\n".join(blocks)


def record_from_dict(
    obj: object,
    location: str,
    fields: FieldNames = FieldNames(),
    require_summary: bool = True,
) -> Record:
    """Validate one decoded raw object and turn it into a :class:`Record`."""
    if not isinstance(obj, dict):
        raise BadRecordError(location, f"expected a JSON object, got {type(obj).__name__}")
    if fields.id not in obj:
        raise BadRecordError(location, f"missing field '{fields.id}'")
    raw_id = obj[fields.id]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise BadRecordError(location, f"field '{fields.id}' must be a string or integer")
    rid = str(raw_id)
    if not rid.strip():
        raise BadRecordError(location, f"field '{fields.id}' is empty")

    given = [key for key in (fields.document, fields.documents, fields.sections) if obj.get(key) is not None]
    if len(given) > 1:
        # taking one would silently drop the other's text
        raise BadRecordError(location, f"has both {' and '.join(repr(k) for k in given)}; give one of them", rid)
    if fields.sections in given:
        docs = [sections_to_document(obj[fields.sections], location, fields.sections)]
    elif fields.documents in obj and obj[fields.documents] is not None:
        docs = obj[fields.documents]
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
            raise BadRecordError(location, f"field '{fields.documents}' must be a list of strings", rid)
    elif fields.document in obj and obj[fields.document] is not None:
        doc = obj[fields.document]
        if not isinstance(doc, str):
            raise BadRecordError(location, f"field '{fields.document}' must be a string", rid)
        docs = [doc]
    else:
        raise BadRecordError(location, f"missing field '{fields.document}' (or '{fields.documents}')", rid)
    if not any(d.strip() for d in docs):
        raise BadRecordError(location, "empty document", rid)

    try:
        summary, more_references = _summaries(obj, fields.summary, location)
        query = _optional_text(obj, fields.query, location)
        title = _optional_text(obj, fields.title, location)
    except BadRecordError as err:
        err.record_id = rid
        raise
    if require_summary:
        if summary is None:
            raise BadRecordError(location, f"missing field '{fields.summary}'", rid)
        if not summary.strip():
            raise BadRecordError(location, "empty summary", rid)
    if any(not reference.strip() for reference in more_references):
        raise BadRecordError(location, f"field '{fields.summary}': an empty reference in the list", rid)
    if query is not None and not query.strip():
        query = None
    return Record(id=rid, documents=docs, summary=summary, query=query, title=title, location=location,
                  more_references=more_references)
