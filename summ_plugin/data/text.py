"""Text hygiene: what every tool does to a record's text before it is split, scored or encoded.

summ-prepare, summ-summarize, summ-train-selector, summ-eval-retrieval and summ-make-vocab
all clean with these functions, so a selector is trained on exactly the text it later scores
and a model reads at inference the text it was trained on. No fairseq import.
"""
import re
import unicodedata
from typing import Tuple

from summ_plugin.data.records import Record

# GPT-2 BPE is quadratic in the length of a whitespace-free run; longer runs are broken up.
MAX_RUN_CHARS = 100

# Removed code points, as ranges (keeps \t \n; \r was turned into \n first). The exported
# tokenizer (summ_plugin.export_hf.tokenizer) builds its normalizer from these same constants.
CONTROL_CHAR_RANGES = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F))
_CONTROL_CHARS = re.compile(
    "[" + "".join(f"\\x{lo:02x}-\\x{hi:02x}" for lo, hi in CONTROL_CHAR_RANGES) + "\\ud800-\\udfff]")
_LONG_RUN = re.compile(r"\S{%d,}" % (MAX_RUN_CHARS + 1))


def _break_run(match) -> str:
    run = match.group(0)
    return " ".join(run[i : i + MAX_RUN_CHARS] for i in range(0, len(run), MAX_RUN_CHARS))


def clean_text(text: str) -> str:
    """NFC-normalize, drop control characters (not \\n \\t) and lone surrogates (from JSON
    escapes; they cannot be UTF-8 encoded), and break whitespace-free runs longer than
    ``MAX_RUN_CHARS`` so that BPE stays linear on hostile input."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    return _LONG_RUN.sub(_break_run, text)


def clean_record(record: Record) -> Tuple[Record, bool]:
    """Return the cleaned record and whether anything changed."""

    def opt(value):
        return None if value is None else clean_text(value)

    cleaned = Record(
        id=record.id,
        documents=[clean_text(d) for d in record.documents],
        summary=opt(record.summary),
        query=opt(record.query),
        title=opt(record.title),
        location=record.location,
        more_references=tuple(clean_text(r) for r in record.more_references),
    )
    return cleaned, cleaned != record


def target_text(summary: str) -> str:
    """Summary sentences joined with a space: newlines stay out of the BPE target (BART was
    trained on summaries without them); rougeLsum re-splits the output into sentences."""
    return " ".join(line.strip() for line in summary.split("\n") if line.strip())
