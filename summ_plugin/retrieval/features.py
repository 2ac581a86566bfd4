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
from scipy import sparse

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
    # -- version 3: the question in context (issue 21); appended, so that version-2 selectors
    # (whose trees index only the names above) still load and score as they did
    "query_similarity",             # TF-IDF cosine of the passage to the query (0 without one)
    "query_window_best",            # best query BM25 (/ record max) within 2 passages before/after, same document
    "query_window_mean",            # mean query BM25 within 2 passages before/after
    "query_wide_mean",              # mean query BM25 within 8 passages before/after (a scene, a discussion)
    "query_rank_in_document",       # rank by query BM25 within its document, 0 best .. 1 worst
    "query_term_share_window",      # share of the query's terms found within 2 passages before/after
    "general_query",                # 1 when the query names nothing specific ("What is the plot?")
    "log_query_content_terms",      # log(1 + the query's specific terms)
    "speaker_turn",                 # 1 in a transcript document whose line names a speaker ("Name: text")
    "speaker_share",                # share of the document's words its speaker says
    "log_turn_words",               # log(1 + words of its speaker turn)
    "speaker_in_query",             # 1 when its speaker is named in the query
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


# Words that make a question general: it asks about the whole text, not about something in it
# ("What is the plot of the story?", "Summarize the meeting", "What was discussed?"). A query
# whose terms are all of these (or stopwords) is general; its BM25 scores say little.
GENERAL_QUERY_TERMS = frozenset("""
summarize summarise summary summarized summarised overview describe description outline recap
plot story stories narrative text article paper document documents report book chapter meeting
meetings discussion discussions discuss discussed talk talked conversation transcript session
happen happened happens happening events event overall whole main general key important points
point topic topics content contents tell explain give brief briefly short kind sort
""".split())

# "Name: text" at the start of a line: a transcript turn. A name is 1-4 words, each starting with
# a capital or a digit ("Speaker A", "PhD F", "Professor Smith", "User Interface").
_SPEAKER = re.compile(r"^\s*([A-Z][\w'.\-]*(?:[ \t]+[A-Z0-9][\w'.\-]*){0,3})[ \t]*:[ \t]*\S")
# a document is a transcript when at least this share of its passages open a speaker turn (and 3)
TRANSCRIPT_MIN_TURN_SHARE = 0.2
NEAR_WINDOW = 2
WIDE_WINDOW = 8


def query_content_terms(query: Optional[str]) -> List[str]:
    """The query's terms that name something specific (not stopwords, not GENERAL_QUERY_TERMS)."""
    return [t for t in tokenize_terms(query or "") if t not in GENERAL_QUERY_TERMS]


class _Groups:
    """Items grouped by an integer key (e.g. their document), order within a group kept:
    per-group positions, sums and windows in O(n log n), whatever the number of groups."""

    def __init__(self, keys):
        keys = np.asarray(keys, dtype=np.int64)
        _, self.group = np.unique(keys, return_inverse=True)
        self.group = self.group.ravel()
        self.order = np.argsort(self.group, kind="stable")  # items sorted by group, then position
        self.sizes = np.bincount(self.group)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.index = np.empty(len(keys), dtype=np.int64)  # position within its group
        self.index[self.order] = np.arange(len(keys)) - self.starts[self.group[self.order]]
        self.size = self.sizes[self.group]

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over the items of its group up to and including it."""
        sorted_values = np.asarray(values, dtype=np.float64)[self.order]
        running = np.cumsum(sorted_values)
        before_group = np.concatenate([[0.0], running])[self.starts]
        out = np.empty(len(sorted_values))
        out[self.order] = running - before_group[self.group[self.order]]
        return out

    def total(self, values: np.ndarray) -> np.ndarray:
        """Per item: the sum of ``values`` over its whole group."""
        return np.bincount(self.group, weights=np.asarray(values, dtype=np.float64))[self.group]

    def window(self, values: np.ndarray, width: int):
        """Per item: the mean and the maximum of ``values`` over the items of its group at most
        ``width`` positions before or after it."""
        values = np.asarray(values, dtype=np.float64)
        n = len(values)
        position = np.empty(n, dtype=np.int64)  # where each item sits in sorted order
        position[self.order] = np.arange(n)
        low = position - np.minimum(width, self.index)
        high = position + np.minimum(width, self.size - 1 - self.index)
        running = np.concatenate([[0.0], np.cumsum(values[self.order])])
        mean = (running[high + 1] - running[low]) / (high - low + 1)
        sorted_values = values[self.order]
        best = values.copy()
        for shift in range(1, width + 1):
            for side in (position - shift, position + shift):
                inside = (side >= low) & (side <= high)
                best[inside] = np.maximum(best[inside], sorted_values[side[inside]])
        return mean, best


    def window_matrix(self, width: int):
        """Sparse (n x n): row i has a 1 for each item of i's group at most ``width`` positions
        from it (itself included), so ``window_matrix @ X`` sums X over each item's window."""
        n = len(self.group)
        position = np.empty(n, dtype=np.int64)
        position[self.order] = np.arange(n)
        rows, cols = [], []
        for shift in range(-width, width + 1):
            inside = (self.index + shift >= 0) & (self.index + shift < self.size)
            items = np.flatnonzero(inside)
            rows.append(items)
            cols.append(self.order[position[items] + shift])
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def _similarity_to_group_text(index: TermIndex, tfidf, groups: _Groups, members: np.ndarray) -> np.ndarray:
    """Per passage: TF-IDF cosine to the text made of the ``members`` (a mask) of its group, as
    :func:`cosine_to_text` on the members' joined text (the joined text's term counts are the sum
    of the members' counts), for all groups at once (sparse; linear in the passages)."""
    rows = np.flatnonzero(members)
    pick = sparse.csr_matrix((np.ones(len(rows)), (groups.group[rows], rows)),
                             shape=(len(groups.sizes), index.n_passages))
    counts = (pick @ index.counts).tocsr()
    counts.sum_duplicates()
    counts.data = (1.0 + np.log(counts.data)) * index.tfidf_idf()[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    counts = sparse.diags(1.0 / norms) @ counts
    return np.asarray(tfidf.multiply(counts[groups.group]).sum(axis=1)).ravel()


def _speaker_features(passages: List[Passage], texts: List[str], words: np.ndarray, docs: _Groups,
                      query: Optional[str]) -> Dict[str, np.ndarray]:
    """Transcript features: which speaker each passage belongs to (a passage opening with
    ``Name:`` starts a turn; the passages after it, up to the next, continue it)."""
    n = len(passages)
    names = [None] * n
    starts = np.zeros(n)
    for i, text in enumerate(texts):
        match = _SPEAKER.match(text)
        if match:
            names[i] = match.group(1)
            starts[i] = 1.0
    out = {key: np.zeros(n) for key in ("speaker_turn", "speaker_share", "log_turn_words", "speaker_in_query")}
    turns_per_doc = docs.total(starts)
    transcript = (turns_per_doc >= 3) & (turns_per_doc >= TRANSCRIPT_MIN_TURN_SHARE * docs.size)
    if not transcript.any():
        return out
    # the speaker of every passage: the last turn opened in its document, at or before it
    turn = (docs.cumulative(starts) - 1).astype(np.int64)  # turn number within the document, -1 before the first
    speaker_of = [None] * n
    for i in docs.order:  # document by document, in order
        if starts[i]:
            current = names[i]
        elif docs.index[i] == 0:
            current = None
        speaker_of[i] = current
    has_speaker = np.array([s is not None for s in speaker_of]) & transcript
    doc_of = docs.group
    speaker_words: Dict[tuple, float] = {}
    turn_words: Dict[tuple, float] = {}
    for i in np.flatnonzero(has_speaker):
        key = (doc_of[i], speaker_of[i])
        speaker_words[key] = speaker_words.get(key, 0.0) + words[i]
        turn_key = (doc_of[i], turn[i])
        turn_words[turn_key] = turn_words.get(turn_key, 0.0) + words[i]
    doc_words = docs.total(words)
    query_terms = set(tokenize_terms(query or ""))
    named: Dict[str, bool] = {}
    for i in np.flatnonzero(has_speaker):
        name = speaker_of[i]
        out["speaker_turn"][i] = 1.0
        out["speaker_share"][i] = speaker_words[(doc_of[i], name)] / max(doc_words[i], 1.0)
        out["log_turn_words"][i] = np.log1p(turn_words[(doc_of[i], turn[i])])
        if name not in named:
            name_terms = set(tokenize_terms(name)) - {"speaker"}
            named[name] = bool(name_terms) and name_terms <= query_terms
        out["speaker_in_query"][i] = 1.0 if named[name] else 0.0
    return out


def passage_features(passages: List[Passage], query: Optional[str], title: Optional[str],
                     k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Matrix of shape (len(passages), len(FEATURE_NAMES)). Linear in the passages (up to a
    sort): a record of 50,000 one-line documents takes seconds."""
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
    doc_ids = np.array([p.doc for p in passages], dtype=np.int64)
    docs = _Groups(doc_ids)
    n_docs = int(doc_ids.max()) + 1

    # position in the document, from both ends, in passages and in words
    before = docs.index.astype(np.float64)
    after = (docs.size - 1 - docs.index).astype(np.float64)
    put("position_in_document", _relative(before, after))
    put("log_passages_before", np.log1p(before))
    put("log_passages_after", np.log1p(after))
    cumulative = docs.cumulative(words)
    put("log_words_before", np.log1p(cumulative - words))
    put("log_words_after", np.log1p(docs.total(words) - cumulative))

    paragraphs = [(p.doc, p.paragraph) for p in passages]
    before, after = _group_positions(paragraphs)
    put("position_in_paragraph", _relative(before, after))
    put("first_in_paragraph", before == 0)
    put("last_in_paragraph", after == 0)
    put("document_index", doc_ids / (n_docs - 1) if n_docs > 1 else np.zeros(n))

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
            heading_index = {heading: i for i, heading in enumerate(headings)}
            similarity = _headings_similarity(index, headings, title_vector)
            put("section_title_similarity",
                [similarity[heading_index[p.section_title]] if p.section_title else 0.0 for p in passages])

    # content
    put("log_words", np.log1p(words))
    if n <= MAX_LEXRANK_PASSAGES:
        put("centrality", _normalised(lexrank_scores(index)))
    else:
        put("centrality", _normalised(tfidf @ np.asarray(tfidf.sum(axis=0)).ravel()))
    _, terms, weights = pseudo_query(index, query, title)
    bm25 = index.bm25_matrix(k1, b)
    query_bm25 = _normalised(bm25 @ index.query_vector(terms, weights))
    put("bm25", query_bm25)
    centroid_terms, centroid_weights = index.centroid_terms()
    put("bm25_centroid", _normalised(bm25 @ index.query_vector(centroid_terms, centroid_weights)))
    put("has_query", 1.0 if query else 0.0)
    if title:
        put("title_similarity", cosine_to_text(index, tfidf, title))
    put("opening_similarity", _similarity_to_group_text(index, tfidf, docs, docs.index < 3))
    put("closing_similarity", _similarity_to_group_text(index, tfidf, docs, docs.index >= docs.size - 3))
    put("digit_density", [sum(c.isdigit() for c in t) / max(len(t), 1) for t in texts])
    put("capitalised_density", [len(_CAPITALISED.findall(t)) / max(w - 1, 1) for t, w in zip(texts, words)])
    put("citation_density", [len(_CITATION.findall(t)) / max(w, 1) for t, w in zip(texts, words)])
    put("first_person_share", [sum(1 for token in _WORD.findall(t.lower()) if token in _FIRST_PERSON) / max(w, 1)
                               for t, w in zip(texts, words)])

    # the question in context: what answers it sits in a stretch of passages (a scene, a discussion)
    if query:
        query_terms = sorted(set(tokenize_terms(query)))
        columns = [index.vocabulary[t] for t in query_terms if t in index.vocabulary]
        if query_terms:
            # sparse throughout: a long query times many passages must not become a dense matrix
            present = (index.counts[:, columns] > 0).astype(np.float64).tocsr()
            put("query_term_share", np.asarray(present.sum(axis=1)).ravel() / len(query_terms))
            # a query term counts for the window when any passage of the window has it
            put("query_term_share_window",
                np.asarray((docs.window_matrix(NEAR_WINDOW) @ present > 0).sum(axis=1)).ravel() / len(query_terms))
        put("query_similarity", cosine_to_text(index, tfidf, query))
        near_mean, near_best = docs.window(query_bm25, NEAR_WINDOW)
        put("query_window_best", near_best)
        put("query_window_mean", near_mean)
        put("query_wide_mean", docs.window(query_bm25, WIDE_WINDOW)[0])
        # rank within the document by query score (ties: the earlier passage first)
        order = np.lexsort((docs.index, -query_bm25, docs.group))
        rank = np.empty(n, dtype=np.float64)
        rank[order] = np.arange(n) - docs.starts[docs.group[order]]
        put("query_rank_in_document", rank / np.maximum(docs.size - 1, 1))
        content = query_content_terms(query)
        put("general_query", 0.0 if content else 1.0)
        put("log_query_content_terms", np.log1p(len(content)))
    for name, values in _speaker_features(passages, texts, words, docs, query).items():
        put(name, values)
    return features


def _headings_similarity(index: TermIndex, headings: List[str], title_vector: np.ndarray) -> np.ndarray:
    """TF-IDF cosine of each heading to the title; many headings (many small documents) at once."""
    return np.array([float(text_vector(index, heading) @ title_vector) for heading in headings]) \
        if len(headings) <= 64 else _sparse_text_similarity(index, headings, title_vector)


def _sparse_text_similarity(index: TermIndex, texts: List[str], vector: np.ndarray) -> np.ndarray:
    """``text_vector(index, text) @ vector`` for many texts without a dense vector per text."""
    rows, cols, data = [], [], []
    for row, text in enumerate(texts):
        counts: Dict[int, int] = {}
        for term in tokenize_terms(text):
            column = index.vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        for column, count in counts.items():
            rows.append(row)
            cols.append(column)
            data.append(count)
    matrix = sparse.csr_matrix((np.asarray(data, dtype=np.float64), (rows, cols)),
                               shape=(len(texts), index.counts.shape[1]))
    matrix.data = (1.0 + np.log(matrix.data)) * index.tfidf_idf()[matrix.indices]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sparse.diags(1.0 / norms) @ matrix) @ vector
