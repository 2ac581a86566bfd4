"""Per-passage features for the learned selector. No fairseq import.

Everything is computed inside one record, and scores are normalised by the record's
maximum, so the same model applies to short and long records alike. Positions are given
from both ends (of the document and of its section), in passages and in words, because
what a summary says sits near the start and the end of papers, reports and news, and
only a non-linear model over both ends can express "start and end, not the middle".
Section headings (see :func:`.passages.split_sections`) enter as their index from both
ends and as the kind of section their title names.
"""
import re
from typing import Dict, List, Optional

import numpy as np

from .heuristic import lexrank_scores, pseudo_query, MAX_LEXRANK_PASSAGES
from .passages import Passage
from .text import TermIndex, cosine_to_text, text_vector, tokenize_terms

# Kinds of section, by words of their heading. Generic to long documents with structure
# (papers, reports, theses, manuals); documents without headings have all zeros.
SECTION_KINDS: Dict[str, tuple] = {
    "introduction": ("introduction", "overview", "background", "motivation", "preface", "summary",
                     "abstract", "executive"),
    "related": ("related", "prior", "previous", "literature"),
    "method": ("method", "methods", "methodology", "approach", "model", "models", "framework",
               "architecture", "design", "algorithm", "proposed", "system", "task", "problem",
               "formulation", "definition"),
    "experiment": ("experiment", "experiments", "experimental", "evaluation", "setup", "settings",
                   "data", "dataset", "datasets", "implementation", "training", "baselines"),
    "result": ("result", "results", "analysis", "discussion", "findings", "performance",
               "comparison", "ablation", "error"),
    "conclusion": ("conclusion", "conclusions", "concluding", "future", "outlook", "limitations",
                   "limitation", "remarks", "closing", "recommendations"),
    "appendix": ("appendix", "appendices", "supplementary", "acknowledgments", "acknowledgements",
                 "acknowledgment", "acknowledgement", "references", "bibliography", "ethics",
                 "hyperparameters", "details"),
}

FEATURE_NAMES = [
    "position_in_document",         # 0 first .. 1 last passage of its document
    "log_passages_before",          # log(1 + passages before it in its document)
    "log_passages_after",           # log(1 + passages after it in its document)
    "log_words_before",             # log(1 + words before it in its document)
    "log_words_after",              # log(1 + words after it in its document)
    "position_in_paragraph",        # 0 first .. 1 last passage of its paragraph
    "first_in_paragraph",           # 1 for a paragraph's first passage
    "last_in_paragraph",            # 1 for a paragraph's last passage
    "document_index",               # 0 first .. 1 last document of the record
    "has_sections",                 # 1 when its document has headings
    "section_position",             # 0 first .. 1 last section of its document
    "log_sections_before",          # log(1 + sections before its own)
    "log_sections_after",           # log(1 + sections after its own)
    "position_in_section",          # 0 first .. 1 last passage of its section
    "log_passages_before_in_section",
    "log_passages_after_in_section",
    *[f"section_{kind}" for kind in SECTION_KINDS],  # 1 when its heading names that kind
    "section_title_similarity",     # TF-IDF cosine of its heading to the record's title
    "log_words",                    # log(1 + words)
    "centrality",                   # LexRank score / record maximum
    "bm25",                         # BM25 vs query (or title, or centroid) / record maximum
    "bm25_centroid",                # BM25 vs the record's own top terms / record maximum
    "has_query",                    # 1 when the record has a query
    "query_term_share",             # share of the query's terms found in the passage
    "title_similarity",             # TF-IDF cosine to the title (0 without one)
    "opening_similarity",           # TF-IDF cosine to the first three passages of its document
    "closing_similarity",           # TF-IDF cosine to the last three passages of its document
    "digit_density",                # share of characters that are digits
    "capitalised_density",          # share of words after the first that start uppercase
    "citation_density",             # bracketed citations/references per word
    "first_person_share",           # share of words that are "we", "our", "us", "i"
]

_CAPITALISED = re.compile(r"(?<=\s)[A-Z]")
# "[12]", "[3, 4]", "(Smith et al., 2019)", "(Lee, 2020; Kim 2021)"
_CITATION = re.compile(r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]|\([^()]*\b(?:19|20)\d\d[a-z]?\)")
_FIRST_PERSON = frozenset(("we", "our", "ours", "us", "i", "my"))
_WORD = re.compile(r"\w+")


def _normalised(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def _group_positions(keys: List[tuple]):
    """Per item: index within its group, items after it in its group, and group size."""
    before = np.zeros(len(keys))
    after = np.zeros(len(keys))
    members: Dict[tuple, List[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    for indices in members.values():
        size = len(indices)
        before[indices] = np.arange(size)
        after[indices] = size - 1 - np.arange(size)
    return before, after


def _relative(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    total = before + after
    return np.divide(before, total, out=np.zeros_like(before), where=total > 0)


def section_kinds(title: str) -> np.ndarray:
    words = set(_WORD.findall(title.lower()))
    return np.array([1.0 if words.intersection(kind) else 0.0 for kind in SECTION_KINDS.values()])


def passage_features(passages: List[Passage], query: Optional[str], title: Optional[str],
                     k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Matrix of shape (len(passages), len(FEATURE_NAMES))."""
    n = len(passages)
    features = np.zeros((n, len(FEATURE_NAMES)))
    if n == 0:
        return features
    column = {name: i for i, name in enumerate(FEATURE_NAMES)}

    def put(name, values):
        features[:, column[name]] = values

    texts = [p.text for p in passages]
    index = TermIndex.from_texts(texts)
    tfidf = index.tfidf_matrix()
    words = np.array([len(t.split()) for t in texts], dtype=np.float64)
    docs = [(p.doc,) for p in passages]
    n_docs = max(p.doc for p in passages) + 1

    # position in the document, from both ends, in passages and in words
    before, after = _group_positions(docs)
    put("position_in_document", _relative(before, after))
    put("log_passages_before", np.log1p(before))
    put("log_passages_after", np.log1p(after))
    words_before = np.zeros(n)
    words_after = np.zeros(n)
    for doc in set(docs):
        rows = [i for i, key in enumerate(docs) if key == doc]
        cumulative = np.cumsum(words[rows])
        words_before[rows] = cumulative - words[rows]
        words_after[rows] = cumulative[-1] - cumulative
    put("log_words_before", np.log1p(words_before))
    put("log_words_after", np.log1p(words_after))

    paragraphs = [(p.doc, p.paragraph) for p in passages]
    before, after = _group_positions(paragraphs)
    put("position_in_paragraph", _relative(before, after))
    put("first_in_paragraph", before == 0)
    put("last_in_paragraph", after == 0)
    put("document_index", [p.doc / (n_docs - 1) if n_docs > 1 else 0.0 for p in passages])

    # sections: which one (from both ends of the document), where in it, what kind
    sections_per_doc: Dict[int, int] = {}
    for p in passages:
        sections_per_doc[p.doc] = max(sections_per_doc.get(p.doc, 0), p.section + 1)
    section_before = np.array([p.section for p in passages], dtype=np.float64)
    section_after = np.array([sections_per_doc[p.doc] - 1 - p.section for p in passages], dtype=np.float64)
    put("has_sections", [1.0 if sections_per_doc[p.doc] > 1 or p.section_title else 0.0 for p in passages])
    put("section_position", _relative(section_before, section_after))
    put("log_sections_before", np.log1p(section_before))
    put("log_sections_after", np.log1p(section_after))
    before, after = _group_positions([(p.doc, p.section) for p in passages])
    put("position_in_section", _relative(before, after))
    put("log_passages_before_in_section", np.log1p(before))
    put("log_passages_after_in_section", np.log1p(after))
    kind_start = column[f"section_{next(iter(SECTION_KINDS))}"]
    headings = sorted({p.section_title for p in passages if p.section_title})
    if headings:
        kinds = {heading: section_kinds(heading) for heading in headings}
        for i, p in enumerate(passages):
            if p.section_title:
                features[i, kind_start:kind_start + len(SECTION_KINDS)] = kinds[p.section_title]
        if title:
            title_vector = text_vector(index, title)
            similarity = {heading: float(text_vector(index, heading) @ title_vector) for heading in headings}
            put("section_title_similarity", [similarity.get(p.section_title, 0.0) for p in passages])

    # content
    put("log_words", np.log1p(words))
    if n <= MAX_LEXRANK_PASSAGES:
        put("centrality", _normalised(lexrank_scores(index)))
    else:
        put("centrality", _normalised(tfidf @ np.asarray(tfidf.sum(axis=0)).ravel()))
    _, terms, weights = pseudo_query(index, query, title)
    put("bm25", _normalised(index.bm25_matrix(k1, b) @ index.query_vector(terms, weights)))
    centroid_terms, centroid_weights = index.centroid_terms()
    put("bm25_centroid", _normalised(index.bm25_matrix(k1, b) @ index.query_vector(centroid_terms, centroid_weights)))
    put("has_query", 1.0 if query else 0.0)
    if query:
        query_terms = set(tokenize_terms(query))
        if query_terms:
            put("query_term_share", [len(query_terms.intersection(tokenize_terms(t))) / len(query_terms)
                                     for t in texts])
    if title:
        put("title_similarity", cosine_to_text(index, tfidf, title))
    opening = np.zeros(n)
    closing = np.zeros(n)
    for doc in set(docs):
        rows = [i for i, key in enumerate(docs) if key == doc]
        opening[rows] = cosine_to_text(index, tfidf[rows], " ".join(texts[i] for i in rows[:3]))
        closing[rows] = cosine_to_text(index, tfidf[rows], " ".join(texts[i] for i in rows[-3:]))
    put("opening_similarity", opening)
    put("closing_similarity", closing)
    put("digit_density", [sum(c.isdigit() for c in t) / max(len(t), 1) for t in texts])
    put("capitalised_density", [len(_CAPITALISED.findall(t)) / max(w - 1, 1) for t, w in zip(texts, words)])
    put("citation_density", [len(_CITATION.findall(t)) / max(w, 1) for t, w in zip(texts, words)])
    put("first_person_share", [sum(1 for token in _WORD.findall(t.lower()) if token in _FIRST_PERSON) / max(w, 1)
                               for t, w in zip(texts, words)])
    return features
