"""Splitting raw documents into passages, the units retrievers rank. No fairseq import.

Three modes:

* ``sentence`` (default): a rule-based sentence splitter (see :func:`split_sentences`);
* ``paragraph``: blocks separated by blank lines;
* ``window``: fixed windows of ``window`` words that advance by ``stride`` words, so
  consecutive windows overlap by ``window - stride`` words.

Passage ids number the passages of a whole record (all its documents) in document
order, 0..n-1; empty or whitespace-only passages are never produced.

Sections: in ``sentence`` and ``paragraph`` mode each document is first cut at its
section headings (:func:`split_sections`): Markdown headings (``# Title``, what the
``sections`` input field and the arXiv/PubMed layouts become), numbered headings
("3.2 Results", "IV. RESULTS", "A.1 Details") and short lines without a final
punctuation mark that have body text after them. Headings are not passages: each passage
carries its section's index and title, which the learned selector uses as features, and
the text BART reads is the body only (``keep_headings=True`` emits headings as passages too).
"""
import re
from dataclasses import dataclass
from typing import List, Tuple

from .budget import DEFAULT_SPLIT_MODE
from .splitting import MAX_PARAGRAPH_UNITS, MAX_SENTENCE_UNITS, split_long_passage

SPLIT_MODES = ("sentence", "paragraph", "window")


@dataclass
class Passage:
    id: int  # index in document order over all documents of the record (0..n-1)
    doc: int  # which document (0 for single-document records)
    text: str
    # which paragraph of its document the passage belongs to (the window index in
    # "window" mode); used by the learned selector's position features
    paragraph: int = 0
    # which section of its document, counted in order from 0 (text before the first heading,
    # when there is any, is a section of its own), and that section's heading ("" for the text
    # before the first heading, and for documents without headings)
    section: int = 0
    section_title: str = ""


# Abbreviations after which a period does not end a sentence. Titles come before a name
# and never end a sentence; the others usually don't (a capitalised next word after
# them is still not taken as a boundary: "the U.S. Army").
_TITLE_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "rev", "fr", "sr", "jr", "st", "gen", "sen", "rep",
    "gov", "lt", "col", "capt", "cpt", "sgt", "maj", "adm", "cmdr", "hon", "pres", "supt",
    "messrs", "mme", "mlle", "det", "insp", "atty",
}
_OTHER_ABBREVIATIONS = {
    "vs", "e.g", "i.e", "cf", "al", "approx", "ca", "inc", "ltd", "co", "corp", "bros",
    "dept", "univ", "assn", "eds", "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "mt", "ft", "ave", "blvd", "hwy", "u.s", "u.k", "u.n", "e.u",
    "a.m", "p.m", "ph.d", "b.a", "m.a", "b.sc", "m.sc", "d.c", "n.y", "l.a", "cit", "ibid",
    "viz", "govt", "intl", "natl", "misc",
}
# Abbreviations that are also ordinary words ("no", "art"): only before a number
# ("No. 5", "Fig. 3", "p. 12") is their period not a boundary.
_NUMBER_ABBREVIATIONS = {
    "no", "nos", "fig", "figs", "p", "pp", "vol", "vols", "sec", "art", "ch", "op", "ed",
    "eq", "eqs", "ref", "refs", "tab", "par", "para",
}
# "etc." ends a sentence when the next word is capitalised; it is not a title.
_ENDS_WHEN_CAPITALISED = {"etc"}

# A candidate boundary: terminators, optional closing quotes/brackets, then whitespace.
# Requiring whitespace after the terminator keeps "3.5", "e.g.x" and "U.S.-made" whole.
_BOUNDARY = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]}\u00bb]*)(\s+)")
# the word just before a terminator (letters, digits, inner periods and apostrophes)
_WORD_BEFORE = re.compile(r"([\w][\w.'\u2019-]*)$")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_NEWLINE = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def _ends_sentence(line: str, match: "re.Match") -> bool:
    """Decide whether the candidate boundary ``match`` in ``line`` ends a sentence."""
    terminators = match.group(1)
    next_char = line[match.end():match.end() + 1]  # not line[end:]: a copy per boundary is quadratic
    if "?" in terminators or "!" in terminators:
        return True
    # "..." / "." followed by a lowercase word continues the sentence ("approx. five")
    if next_char.islower():
        return False
    if terminators != ".":
        return True  # "..." before a capital, or ".." typos
    if match.group(2):
        return True  # a period inside closing quotes/brackets: 'said "no."  Then'
    # only the few characters before the period matter (abbreviations are short);
    # searching the whole line each time would make splitting quadratic
    before = _WORD_BEFORE.search(line[max(0, match.start() - 24):match.start()])
    if before is None:
        return True
    word = before.group(1).lower().rstrip("'\u2019-")
    if word in _TITLE_ABBREVIATIONS:
        return False
    if word in _ENDS_WHEN_CAPITALISED:
        return next_char.isupper()
    if word in _OTHER_ABBREVIATIONS:
        return False
    if word in _NUMBER_ABBREVIATIONS and next_char.isdigit():
        return False
    # initials ("J. K. Rowling", "A.B.") and single letters
    if len(word) == 1 and word.isalpha():
        return False
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        return False
    return True


def _split_line(line: str) -> List[str]:
    sentences = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        if _ends_sentence(line, match):
            end = match.start(3)
            piece = line[start:end].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
    piece = line[start:].strip()
    if piece:
        sentences.append(piece)
    return sentences


def split_sentences(text: str) -> List[str]:
    """Split ``text`` into sentences with rules, not ``text.split('.')``.

    Boundaries: ``.``, ``?``, ``!`` and ellipses followed by whitespace (closing quotes
    and brackets stay with their sentence), and every line break (transcripts put one
    turn per line). Not boundaries: periods of known abbreviations ("Dr.", "U.S.",
    "e.g."), initials ("J. K."), decimals ("3.5"), and a period followed by a lowercase
    word. Returns stripped, non-empty sentences.
    """
    sentences = []
    for line in _NEWLINE.split(text):
        if line.strip():
            sentences.extend(_split_line(line))
    return sentences


def split_paragraphs(text: str) -> List[str]:
    """Blocks separated by blank lines, stripped, empty ones dropped."""
    return [block.strip() for block in _BLANK_LINE.split(text) if block.strip()]


# Heading lines. Markdown headings are certain (the structured input layouts are written
# with them); numbered ones nearly so; a short unpunctuated line is a heading only when
# body text follows and such lines are rare in the document (see split_sections).
_MARKDOWN_HEADING = re.compile(r"#{1,6}[ \t]+(\S.*?)[ \t#]*")
_NUMBERED_HEADING = re.compile(
    r"(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[IVXLC]{1,6}\.|[A-Z](?:\.\d{1,2}){1,3}\.?|[A-Z]\.)\s+[^\W\d_]")
_MAX_HEADING_CHARS = 100
_MAX_HEADING_WORDS = 12
# more short unpunctuated lines than this share of all lines: a list, a transcript or
# verse, not headings
_MAX_PLAIN_HEADING_SHARE = 0.3


def _heading_candidate(line: str) -> bool:
    """A short line with a letter that does not end like a sentence or a clause."""
    if not line or len(line) > _MAX_HEADING_CHARS or len(line.split()) > _MAX_HEADING_WORDS:
        return False
    if line[-1] in ".!?,;:\u2026\"'\u201d\u2019-" or not any(c.isalpha() for c in line):
        return False
    return line[0].isupper() or line[0].isdigit()


def _introduces_text(next_line: str) -> bool:
    """Whether the line after a heading candidate is text (has a letter), as a body is."""
    return any(c.isalpha() for c in next_line)


def split_sections(text: str) -> List[Tuple[str, str]]:
    """``[(heading, body), ...]`` of one document; the first heading is "" (text before any).

    The body keeps its own line breaks and blank lines, so paragraphs and sentences are
    split as without sections. A document with no headings is one ("", text) section.
    """
    lines = text.splitlines()
    stripped = [line.strip() for line in lines]
    non_empty = [i for i, line in enumerate(stripped) if line]
    next_text = {}  # line index -> index of the next non-empty line
    for position, i in enumerate(non_empty[:-1]):
        next_text[i] = non_empty[position + 1]
    markdown, numbered, plain = {}, {}, {}
    for i in non_empty:
        line = stripped[i]
        match = _MARKDOWN_HEADING.fullmatch(line)
        if match:
            markdown[i] = match.group(1)
        elif i in next_text and _heading_candidate(line) and _introduces_text(stripped[next_text[i]]):
            # text must follow: a heading is never the document's last line, nor the label of
            # a line of numbers or symbols ("0 A" over "0", "Table 1" over "0.5 0.7")
            (numbered if _NUMBERED_HEADING.match(line) else plain)[i] = line
    headings = dict(markdown)
    headings.update(numbered)
    if plain and len(plain) <= _MAX_PLAIN_HEADING_SHARE * len(non_empty):
        headings.update(plain)
    if not headings:
        return [("", text)]
    sections: List[Tuple[str, str]] = []
    title, body = "", []
    for i, line in enumerate(lines):
        if i in headings:
            if title or any(part.strip() for part in body):
                sections.append((title, "\n".join(body)))
            title, body = headings[i], []
        else:
            body.append(line)
    sections.append((title, "\n".join(body)))
    return sections


def split_passages(
    documents: List[str], mode: str = DEFAULT_SPLIT_MODE, window: int = 100, stride: int = 80,
    keep_headings: bool = False,
) -> List[Passage]:
    """Split each document of a record into passages numbered over the whole record."""
    if mode not in SPLIT_MODES:
        raise ValueError(f"unknown split mode {mode!r}; choose one of {', '.join(SPLIT_MODES)}")
    if mode == "window":
        if int(window) < 1 or int(stride) < 1:
            raise ValueError(f"window ({window}) and stride ({stride}) must be >= 1")
        if int(stride) > int(window):
            # windows would skip the words between them: refuse rather than lose text
            raise ValueError(f"stride ({stride}) must not exceed window ({window})")
        window, stride = int(window), int(stride)
    passages: List[Passage] = []
    for doc_index, document in enumerate(documents):
        if mode == "window":
            words = document.split()
            start, window_index = 0, 0
            while start < len(words):
                passages.append(Passage(len(passages), doc_index,
                                        " ".join(words[start:start + window]), window_index))
                if start + window >= len(words):
                    break
                start += stride
                window_index += 1
            continue
        para_index = 0
        # run-on text (no boundaries, or CJK) becomes sentence-sized pieces before ranking
        max_units = MAX_SENTENCE_UNITS if mode == "sentence" else MAX_PARAGRAPH_UNITS
        for section_index, (heading, body) in enumerate(split_sections(document)):
            if keep_headings and heading:
                passages.append(Passage(len(passages), doc_index, heading, para_index,
                                        section_index, heading))
                para_index += 1
            for paragraph in split_paragraphs(body):
                pieces = split_sentences(paragraph) if mode == "sentence" else [paragraph]
                for piece in (short for long in pieces for short in split_long_passage(long, max_units)):
                    passages.append(Passage(len(passages), doc_index, piece, para_index,
                                            section_index, heading))
                para_index += 1
    return passages
