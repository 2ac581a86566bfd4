"""The one ROUGE tokenizer and the n-gram/LCS arithmetic against rouge-score itself.

Every expected value here comes from rouge-score's public API (``tokenize.tokenize``,
``RougeScorer``, ``lcs_ind``), never from the code under test.
"""
import ast
import pathlib
import random

import pytest
from nltk.stem import porter
from rouge_score import rouge_scorer
from rouge_score import tokenize as rs_tokenize

from summ_plugin import rouge, rouge_overlap, rouge_tokens
from summ_plugin.retrieval import retrieval_coverage
from summ_plugin.retrieval.oracle import greedy_oracle

PACKAGE = pathlib.Path(rouge.__file__).parent

_WORDS = ("the a of run runs running runner ran police policeman policy generously general 3.5 2024 "
          "1,000 U.S. e-mail don't it's caf\u00e9 na\u00efve stra\u00dfe \u0130stanbul \u212aelvin "
          "\u03a3\u039f\u03a6\u0399\u0391 \u4e2d\u6587 \U0001f600 \u0645\u0631\u062d\u0628\u0627 "
          "ies sses happiness relational conditional hopeful goodness feudalism decisiveness "
          "CAPITALS MiXeD under_score tab\tbed x\x0by a\u00a0b \u2028 -- ... !!! ?").split(" ")

# hostile texts: unicode, digits, punctuation only, empty, whitespace, newlines (blank lines,
# lines of spaces, \r\n), repeated words, one very long text
HOSTILE = [
    "",
    " ",
    "\n",
    "\n\n \n",
    "!!! ... ---",
    "The the THE the the.",
    "police police policeman policemen policy policies",
    "Running runners ran; the runs were run by those who run.",
    "Caf\u00e9 na\u00efve stra\u00dfe \u0130stanbul \u212aelvin \u03a3\u039f\u03a6\u0399\u0391 \u4e2d\u6587 \U0001f600",
    "GDP grew 3.5% to $1,000,000 in Q3 2024 (up from 2.9%).",
    "first line\r\nsecond line\n\n   \nthird, line.\nthe the the\n",
    "U.S. e-mail don't it's under_score tab\tbed x\x0by a\u00a0b \u2028 sep",
    "A storm hit the coast.\nThousands lost power.\nSchools were closed.",
    "Schools were closed.\nA storm hit the coast on Tuesday.\nThousands of homes lost power.",
    " ".join(random.Random(7).choice(_WORDS) for _ in range(700)),
    "\n".join(" ".join(random.Random(i).choice(_WORDS) for _ in range(12)) for i in range(40)),
]


def rs_scores(hyp, ref, types=rouge.ROUGE_TYPES):
    scores = rouge_scorer.RougeScorer(list(types), use_stemmer=True).score(ref, hyp)
    return {t: (scores[t].precision, scores[t].recall, scores[t].fmeasure) for t in types}


def random_texts(seed, count, vocabulary, max_words=30, newline_share=0.1):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(0, max_words))]
        out.append("".join(w + ("\n" if rng.random() < newline_share else " ") for w in words))
    return out


@pytest.mark.parametrize("text", HOSTILE + _WORDS)
def test_tokenize_equals_rouge_scores_tokenize(text):
    assert rouge_tokens.tokenize(text) == rs_tokenize.tokenize(text, porter.PorterStemmer())


def test_tokenize_equals_rouge_score_on_many_words():
    # every word of a real-ish vocabulary, inflected: the stem cache must not change a stem
    stems = ["connect", "generous", "relate", "condition", "hope", "decide", "run", "agree", "fly", "die"]
    endings = ["", "s", "es", "ed", "ing", "ly", "ness", "ful", "ion", "ional", "ization", "ability", "er", "est"]
    words = [s + e for s in stems for e in endings] + [str(n) for n in range(0, 2000, 37)]
    text = " ".join(words)
    expected = rs_tokenize.tokenize(text, porter.PorterStemmer())
    assert rouge_tokens.tokenize(text) == expected
    assert rouge_tokens.tokenize(text) == expected  # second time from the cache
    assert len(set(expected)) < len(set(words))  # stemming really merged words


def test_cache_bound_keeps_tokens_equal(monkeypatch):
    monkeypatch.setattr(rouge_tokens, "MAX_CACHED_WORDS", 5)
    monkeypatch.setattr(rouge_tokens, "_cache", {})
    text = " ".join(f"word{i} running runners" for i in range(20))
    assert rouge_tokens.tokenize(text) == rs_tokenize.tokenize(text, porter.PorterStemmer())
    assert len(rouge_tokens._cache) <= 5


def test_tokenizer_object_in_rouge_scorer():
    # rouge-score's public tokenizer interface: its scorer gives its own default figures
    scorer = rouge_scorer.RougeScorer(list(rouge.ROUGE_TYPES), tokenizer=rouge_tokens.RougeTokenizer())
    for hyp, ref in zip(HOSTILE, reversed(HOSTILE)):
        got = scorer.score(ref, hyp)
        assert {t: tuple(got[t]) for t in rouge.ROUGE_TYPES} == rs_scores(hyp, ref)


@pytest.mark.parametrize("hyp", HOSTILE)
def test_score_prepared_equals_rouge_score_on_hostile_texts(hyp):
    for ref in HOSTILE:
        assert rouge.score_prepared(hyp, ref) == rs_scores(hyp, ref), (hyp[:40], ref[:40])


def test_score_pair_equals_rouge_score_on_hostile_texts():
    for hyp, ref in zip(HOSTILE, HOSTILE[3:] + HOSTILE[:3]):
        expected = rs_scores(rouge.prepare_for_lsum(hyp), rouge.prepare_for_lsum(ref))
        assert rouge.score_pair(hyp, ref) == expected


def test_random_texts_with_many_ties_equal_rouge_score():
    # a vocabulary of 4 words makes many longest common subsequences per sentence pair:
    # rougeLsum depends on which one is taken, so this checks rouge-score's tie-breaking
    vocabulary = ["aa", "bb", "cc", "dd"]
    hyps = random_texts(1, 300, vocabulary)
    refs = random_texts(2, 300, vocabulary, newline_share=0.2)
    for hyp, ref in zip(hyps, refs):
        assert rouge.score_prepared(hyp, ref) == rs_scores(hyp, ref)


def test_lcs_target_indices_equal_rouge_scores_lcs_ind():
    rng = random.Random(5)
    for _ in range(2000):
        size = rng.randint(1, 5)
        target = [str(rng.randrange(size)) for _ in range(rng.randint(0, 30))]
        prediction = [str(rng.randrange(size)) for _ in range(rng.randint(0, 30))]
        masks = rouge_overlap._position_masks(prediction)
        expected = rouge_scorer.lcs_ind(target, prediction) if target and prediction else []
        assert rouge_overlap.lcs_target_indices(target, prediction, masks) == expected
        assert rouge_overlap.lcs_length(target, prediction) == len(expected)


def test_lcs_by_hand():
    # "a b c d" vs "b d a c": the LCSs are "b c", "b d", "a c": length 2
    assert rouge_overlap.lcs_length("a b c d".split(), "b d a c".split()) == 2
    assert rouge_overlap.lcs_length([], ["a"]) == 0
    assert rouge_overlap.score_lcs("a b c d".split(), "b d a c".split()) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("selected", HOSTILE)
def test_coverage_equals_rouge_score_recall_on_hostile_texts(selected):
    for reference in HOSTILE:
        expected = rs_scores(selected, reference, ("rouge1", "rouge2"))
        got = retrieval_coverage(selected, reference)
        assert got == {"rouge1_recall": expected["rouge1"][1], "rouge2_recall": expected["rouge2"][1]}


def test_every_rouge_consumer_tokenizes_with_the_one_tokenizer(monkeypatch):
    # teach the tokenizer (its word cache) that "police" is "gunman": summ-score's figures,
    # --eval-rouge's sums, coverage and the oracle must all see it
    monkeypatch.setattr(rouge_tokens, "_cache", {"police": "gunman"})
    assert rouge.score_pair("police", "gunman")["rouge1"] == (1.0, 1.0, 1.0)
    assert rouge.rouge_sums(["police"], ["gunman"])["rougeLsum_f"] == 1.0
    assert retrieval_coverage("police", "gunman")["rouge1_recall"] == 1.0
    assert greedy_oracle(["storm hit", "police came"], "gunman") == [1]


def test_product_code_uses_only_rouge_scores_public_tokenizer_interface():
    # rouge-score's regexes (tokenize.NON_ALPHANUM_RE, ...) are module internals: the product
    # writes its own; the one import allowed is the Tokenizer base class of its public API
    allowed = {"rouge_score.tokenizers.Tokenizer"}
    internals = {"NON_ALPHANUM_RE", "VALID_TOKEN_RE", "SPACES_RE", "NON_ALPHANUM_PATTERN", "VALID_TOKEN_PATTERN"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rouge_score"):
                found += [(path.name, f"{node.module}.{a.name}") for a in node.names]
            elif isinstance(node, ast.Import):
                found += [(path.name, a.name) for a in node.names if a.name.startswith("rouge_score")]
            elif isinstance(node, ast.Attribute) and node.attr in internals:
                found.append((path.name, node.attr))
    assert [f for f in found if f[1] not in allowed] == []
    assert ("rouge_tokens.py", "rouge_score.tokenizers.Tokenizer") in found  # the scan sees imports
