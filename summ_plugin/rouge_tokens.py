"""rouge-score's tokenization with a per-word stem cache: the project's one ROUGE tokenizer.

``summ-score``, ``--eval-rouge`` (both through :mod:`summ_plugin.rouge`) and retrieval
coverage and the oracle (:mod:`summ_plugin.retrieval.coverage`) all tokenize here, so their
figures are rouge-score's (``RougeScorer(..., use_stemmer=True)``) and agree with each
other. No fairseq import.

The rule is rouge-score 0.1.2's ``tokenize.tokenize(text, stemmer)``: lowercase, replace every
run of characters other than ``[a-z0-9]`` by a space, split on whitespace, Porter-stem
(NLTK's ``PorterStemmer()`` in its default mode, as ``rouge_score.tokenizers.DefaultTokenizer``
builds it) only the words longer than three characters, and keep the tokens that match
``^[a-z0-9]+$``. Stemming is nearly all of rouge-score's tokenization time and a text's words
repeat across a corpus, so each word is stemmed once per process.
"""
import re
from typing import Dict, List

from nltk.stem import porter
from rouge_score.tokenizers import Tokenizer

# The patterns of rouge-score's tokenize.py (NON_ALPHANUM_PATTERN, VALID_TOKEN_PATTERN), written
# here rather than imported: those module constants are not rouge-score's public API.
_NON_ALPHANUM = re.compile(r"[^a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")
# words of at most this many characters are not stemmed (rouge-score's rule)
_MAX_UNSTEMMED_LENGTH = 3
# the cache is dropped when it reaches this many words, so that memory stays bounded on
# corpora with an open vocabulary (numbers, names); a corpus's common words come back at once
MAX_CACHED_WORDS = 500_000

_stemmer = porter.PorterStemmer()
# word -> its token: the stem, or "" when the stem is not a valid token (then it is dropped)
_cache: Dict[str, str] = {}


def _token_of(word: str) -> str:
    token = _stemmer.stem(word) if len(word) > _MAX_UNSTEMMED_LENGTH else word
    if not _VALID_TOKEN.match(token):
        token = ""
    if len(_cache) >= MAX_CACHED_WORDS:
        _cache.clear()
    _cache[word] = token
    return token


def tokenize(text: str) -> List[str]:
    """The ROUGE tokens of ``text``: ``rouge_score.tokenize.tokenize(text, PorterStemmer())``."""
    cache = _cache
    tokens = [cache[w] if w in cache else _token_of(w) for w in _NON_ALPHANUM.sub(" ", text.lower()).split()]
    return [t for t in tokens if t]


class RougeTokenizer(Tokenizer):
    """:func:`tokenize` as a rouge-score tokenizer, for ``RougeScorer(..., tokenizer=RougeTokenizer())``."""

    def tokenize(self, text):
        return tokenize(text)
