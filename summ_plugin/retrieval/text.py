"""Term statistics for the lexical retrievers: tokenizing, TF-IDF and BM25 matrices.

One small index per record: passages are rows of a scipy sparse matrix over the
record's own vocabulary, so scoring is a sparse matrix-vector product rather than a
Python loop over terms. No fairseq import.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse

# A small English stopword list shipped with the code (NLTK data cannot be downloaded).
STOPWORDS = frozenset("""
a about above after again against all almost also although am among an and any are aren't
around as at be because been before being below between both but by can cannot could
couldn't did didn't do does doesn't doing don't down during each either else ever every
few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is
isn't it it's its itself just least less let's like made make many may me might more most
much must mustn't my myself neither never no nor not now of off often on once one only or
other others ought our ours ourselves out over own per perhaps quite rather really said
same say says shan't she she'd she'll she's should shouldn't since so some such than that
that's the their theirs them themselves then there there's these they they'd they'll
they're they've this those though through thus to too toward towards under until up upon
us very was wasn't we we'd we'll we're we've were weren't what what's when when's where
where's whether which while who who's whom whose why why's will with within without won't
would wouldn't yet you you'd you'll you're you've your yours yourself yourselves
s t d ll m re ve
""".split())

_WORD = re.compile(r"\w+")


def tokenize_terms(text: str) -> List[str]:
    """Lowercased word tokens without stopwords (Unicode-aware, underscores split off)."""
    return [t for t in _WORD.findall(text.lower().replace("_", " ")) if t not in STOPWORDS]


class TermIndex:
    """Term counts of one record's passages: ``counts`` is (passages x vocabulary) CSR."""

    def __init__(self, token_lists: Sequence[List[str]]):
        self.vocabulary: Dict[str, int] = {}
        rows: List[int] = []
        cols: List[int] = []
        setdefault = self.vocabulary.setdefault
        for row, tokens in enumerate(token_lists):
            ids = [setdefault(t, len(self.vocabulary)) for t in tokens]
            cols.extend(ids)
            rows.extend([row] * len(ids))
        self.n_passages = len(token_lists)
        shape = (self.n_passages, max(len(self.vocabulary), 1))
        data = np.ones(len(cols), dtype=np.float64)
        # duplicate (row, col) pairs are summed into term frequencies
        self.counts = sparse.csr_matrix((data, (np.asarray(rows, dtype=np.int64),
                                                np.asarray(cols, dtype=np.int64))), shape=shape)
        self.counts.sum_duplicates()
        self.document_frequency = np.bincount(self.counts.indices, minlength=shape[1]).astype(np.float64)
        self.lengths = np.asarray(self.counts.sum(axis=1)).ravel()

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> "TermIndex":
        return cls([tokenize_terms(t) for t in texts])

    def _row_of_each_entry(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_passages), np.diff(self.counts.indptr))

    def query_vector(self, terms: Sequence[str], weights: Optional[Sequence[float]] = None) -> np.ndarray:
        """Dense vector over the vocabulary; terms outside the record are ignored."""
        vector = np.zeros(self.counts.shape[1])
        for i, term in enumerate(terms):
            column = self.vocabulary.get(term)
            if column is not None:
                vector[column] += 1.0 if weights is None else weights[i]
        return vector

    def bm25_idf(self) -> np.ndarray:
        n, df = self.n_passages, self.document_frequency
        # the "+1" form of Robertson-Sparck Jones idf: never negative for common terms
        return np.log1p((n - df + 0.5) / (df + 0.5))

    def bm25_matrix(self, k1: float, b: float) -> sparse.csr_matrix:
        """Per-entry BM25 term weights; ``bm25_matrix @ query_vector`` scores passages."""
        weights = self.counts.copy()
        tf = weights.data
        lengths = self.lengths[self._row_of_each_entry()]
        average = self.lengths.mean() if self.n_passages and self.lengths.mean() > 0 else 1.0
        saturation = tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * lengths / average))
        weights.data = saturation * self.bm25_idf()[weights.indices]
        return weights

    def tfidf_idf(self) -> np.ndarray:
        # smoothed idf, as scikit-learn's TfidfVectorizer(smooth_idf=True)
        return np.log((1.0 + self.n_passages) / (1.0 + self.document_frequency)) + 1.0

    def tfidf_matrix(self) -> sparse.csr_matrix:
        """Sublinear-tf TF-IDF rows, L2-normalised (all-zero rows stay zero)."""
        matrix = self.counts.copy()
        matrix.data = (1.0 + np.log(matrix.data)) * self.tfidf_idf()[matrix.indices]
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        matrix.data /= norms[self._row_of_each_entry()]
        return matrix

    def centroid_terms(self, top_k: int = 10) -> Tuple[List[str], List[float]]:
        """The document's own top TF-IDF terms, a pseudo-query when there is none."""
        totals = np.asarray(self.counts.sum(axis=0)).ravel() * self.tfidf_idf()
        if not self.vocabulary or not totals.any():
            return [], []
        # a term that occurs in one passage says nothing about what the whole document is
        # about (and its high idf would let any sentence win); prefer recurring terms
        recurring = self.document_frequency >= 2
        if recurring.any():
            totals = np.where(recurring, totals, 0.0)
        # stable order: ties go to the term seen first
        order = np.argsort(-totals, kind="stable")[:top_k]
        order = [i for i in order if totals[i] > 0]
        inverse = {i: t for t, i in self.vocabulary.items()}
        top = totals[order]
        return [inverse[i] for i in order], list(top / top.max())


def text_vector(index: TermIndex, text: str) -> np.ndarray:
    """``text`` as an L2-normalised sublinear TF-IDF vector under the record's idf
    (terms outside the record are ignored; all zeros when none is left)."""
    vector = index.query_vector(tokenize_terms(text))
    mask = vector > 0
    vector[mask] = (1.0 + np.log(vector[mask])) * index.tfidf_idf()[mask]
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


def cosine_to_text(index: TermIndex, tfidf: sparse.csr_matrix, text: str) -> np.ndarray:
    """Cosine similarity of each TF-IDF row of ``tfidf`` to ``text`` under the same idf."""
    return tfidf @ text_vector(index, text)
