"""select_source: the token budget guarantee, lead == truncation, windows, the query."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from summ_plugin.retrieval.base import TokenCounter, cut_into_windows
from summ_plugin.retrieval import (Retriever, Selection, approx_token_count, build_retriever,
                                   select_source)


def fake_count(text: str) -> int:
    """A deterministic stand-in for BPE: not additive over words, sometimes 0."""
    words = text.split()
    return len(words) + sum(len(w) // 5 for w in words) + (len(text) % 3 == 0)


def word_count(text: str) -> int:
    return len(text.split())


def left_side(selection: Selection, count, reserved=2, separator=1) -> int:
    query_part = count(selection.query) + separator if selection.query else 0
    return query_part + sum(count(p) for p in selection.passages) + reserved


HOSTILE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400) | st.lists(
    st.sampled_from(["word", "Dr.", "3.5", "?!", "\n\n", "\x00", "\u200b", " ", "x" * 500, "ü", ".", "\t"]),
    max_size=80).map(" ".join)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(HOSTILE_TEXT, min_size=1, max_size=3),
       query=st.none() | HOSTILE_TEXT,
       title=st.none() | st.text(max_size=30),
       name=st.sampled_from(["lead", "bm25", "centrality", "hybrid", "oracle"]),
       split_mode=st.sampled_from(["sentence", "paragraph", "window"]),
       max_positions=st.integers(min_value=4, max_value=120),
       reserved=st.integers(min_value=0, max_value=3),
       separator=st.integers(min_value=0, max_value=2))
def test_budget_guarantee_on_hostile_inputs(documents, query, title, name, split_mode, max_positions,
                                            reserved, separator):
    selection = select_source(documents, query=query, reference="word reference summary", title=title,
                              retriever=build_retriever(name), max_positions=max_positions,
                              count_tokens=fake_count, split_mode=split_mode,
                              reserved_tokens=reserved, separator_tokens=separator)
    assert selection.n_tokens == left_side(selection, fake_count, reserved, separator)
    assert selection.n_tokens <= max_positions
    assert len(selection.passage_ids) == len(selection.passages)
    assert selection.passage_ids == sorted(selection.passage_ids)
    assert all(p.strip() for p in selection.passages)
    assert selection.retriever == name


def test_lead_equals_truncation():
    documents = [" ".join(f"w{i}" for i in range(200))]
    selection = select_source(documents, query=None, reference=None, title=None,
                              retriever=build_retriever("lead"), max_positions=52,
                              count_tokens=word_count, split_mode="window")
    emitted = " ".join(selection.passages).split()
    # windows of 100 words: the second window starts at w80, first takes 50 words
    assert emitted == [f"w{i}" for i in range(50)]
    assert selection.n_tokens == 52


def test_lead_takes_leading_words_of_the_next_passage():
    documents = ["Aa bb cc. Dd ee ff gg hh. Ii jj."]
    selection = select_source(documents, query=None, reference=None, title=None,
                              retriever=build_retriever("lead"), max_positions=7,
                              count_tokens=word_count)
    assert selection.passages == ["Aa bb cc.", "Dd ee"]
    assert selection.passage_ids == [0, 1]


class FixedOrder(Retriever):
    name = "fixed"

    def __init__(self, order):
        self.order = order

    def rank(self, passages, query, reference, title):
        return self.order


def test_budgeted_fill_skips_what_does_not_fit_and_keeps_original_order():
    documents = ["One two three four. Five. Six seven. Eight nine ten."]
    # passages: 4 words, 1, 2, 3; budget 6 (8 - 2 reserved)
    selection = select_source(documents, query=None, reference=None, title=None,
                              retriever=FixedOrder([3, 0, 1, 2]), max_positions=8,
                              count_tokens=word_count)
    # 3 (3 words) fits, 0 (4) doesn't, 1 (1) fits, 2 (2) fits
    assert selection.passage_ids == [1, 2, 3]
    assert selection.passages == ["Five.", "Six seven.", "Eight nine ten."]
    assert selection.n_tokens == 8


def test_query_first_and_counted_with_separator():
    documents = ["Alpha beta zeta eta. Gamma delta epsilon."]
    selection = select_source(documents, query="what about gamma", reference=None, title=None,
                              retriever=build_retriever("bm25"), max_positions=12,
                              count_tokens=word_count)
    assert selection.query == "what about gamma"
    # budget 10: query 3 + separator 1 leaves 6: one passage fits, bm25 picks gamma's
    assert selection.passages == ["Gamma delta epsilon."]
    assert selection.n_tokens == 3 + 1 + 3 + 2


def test_long_query_is_shortened_to_half_the_budget():
    query = " ".join(f"q{i}" for i in range(100))
    selection = select_source(["Ab cd ef. Gh ij kl."], query=query, reference=None, title=None,
                              retriever=build_retriever("lead"), max_positions=42,
                              count_tokens=word_count)
    assert selection.query_shortened
    assert word_count(selection.query) + 1 <= 20
    assert selection.query.split() == query.split()[:19]
    assert selection.passages == ["Ab cd ef.", "Gh ij kl."]


def test_passage_longer_than_budget_is_cut_into_windows_with_the_same_id():
    long_sentence = " ".join(f"W{i}" for i in range(25)) + "."
    documents = ["Short one. " + long_sentence]
    # budget 10: the 25-word sentence becomes windows of 10, 10 and 5 words
    in_order = FixedOrder(list(range(4)))
    selection = select_source(documents, query=None, reference=None, title=None,
                              retriever=in_order, max_positions=12, count_tokens=word_count)
    assert selection.windows_cut == 1
    # 2 + 10 tokens: the first window does not fit after "Short one.", the third does
    assert selection.passage_ids == [0, 1]
    assert selection.passages == ["Short one.", "W20 W21 W22 W23 W24."]
    pieces = cut_into_windows(long_sentence, 10, TokenCounter(word_count))
    assert [word_count(p) for p in pieces] == [10, 10, 5]
    assert " ".join(pieces) == long_sentence


def test_enormous_word_is_cut_by_characters_not_dropped():
    blob = "x" * 1_000_000
    selection = select_source([blob], query=None, reference=None, title=None,
                              retriever=build_retriever("lead"), max_positions=100,
                              count_tokens=lambda t: len(t) // 100 + 1)
    # budget 98 tokens = 9799 characters per window
    assert selection.windows_cut == 1
    assert selection.passages == ["x" * 9799]
    assert selection.n_tokens == 100
    pieces = cut_into_windows(blob, 98, TokenCounter(lambda t: len(t) // 100 + 1))
    assert "".join(pieces) == blob


def test_oracle_without_reference_is_a_clear_error():
    with pytest.raises(ValueError, match="needs the reference"):
        select_source(["a. b."], query=None, reference=None, title=None,
                      retriever=build_retriever("oracle"), max_positions=50, count_tokens=word_count)


def test_bad_budget_and_bad_count_are_errors():
    with pytest.raises(ValueError, match="no room"):
        select_source(["a."], query=None, reference=None, title=None, retriever=build_retriever("lead"),
                      max_positions=2, count_tokens=word_count)
    with pytest.raises(ValueError, match="count_tokens must return"):
        select_source(["a."], query=None, reference=None, title=None, retriever=build_retriever("lead"),
                      max_positions=20, count_tokens=lambda t: -1)


def test_count_tokens_is_called_once_per_distinct_text():
    calls = []

    def counting(text):
        calls.append(text)
        return word_count(text)

    select_source(["Ab. Cd. Ef. Gh."], query="cd", reference=None, title=None,
                  retriever=build_retriever("hybrid"), max_positions=8, count_tokens=counting)
    assert len(calls) == len(set(calls))


def test_bm25_selection_counts_each_passage_about_once():
    """The work of selecting from a 3000-word document is linear: each passage's tokens are
    counted about once (an operation count, not a timing: the same on any machine; the
    throughput itself is bench/'s to measure)."""
    sentences = [f"Sentence {i} talks about topic{i % 37} and item{i % 11} near place{i % 5}."
                 for i in range(330)]
    document = " ".join(sentences)
    assert 2900 < len(document.split()) < 3300
    retriever = build_retriever("bm25")
    counted = []

    def count_tokens(text):
        counted.append(len(text))
        return approx_token_count(text)

    selection = select_source([document], query=None, reference=None, title=None, retriever=retriever,
                              max_positions=1024, count_tokens=count_tokens)
    assert selection.n_passages == 330 and selection.n_tokens <= 1024
    assert len(counted) <= 1.5 * selection.n_passages
    assert sum(counted) <= 1.5 * len(document)


def test_token_bounds_skip_bpe_work_but_never_change_the_selection():
    """With cheap bounds (>= 1 token per word, <= 1 per character) the selection is the same
    and far fewer passages are counted exactly."""
    import json
    import os

    from summ_plugin.retrieval import build_retriever, select_source

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "sample", "test.jsonl")
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle][:6]

    def exact(text, calls):
        calls.append(text)
        return len(text.split()) + text.count(",") + text.count(".")  # a fake BPE: words plus punctuation

    def bounds(text):
        return len(text.split()), len(text) + 1

    for name in ("lead", "bm25", "centrality", "hybrid", "oracle"):
        retriever = build_retriever(name)
        for rec in records:
            docs = rec.get("documents") or [rec["document"]]
            plain_calls, bounded_calls = [], []
            kwargs = dict(query=rec.get("query"), reference=rec["summary"], title=rec.get("title"),
                          retriever=retriever, max_positions=300)
            plain = select_source(docs, count_tokens=lambda t: exact(t, plain_calls), **kwargs)
            bounded = select_source(docs, count_tokens=lambda t: exact(t, bounded_calls), token_bounds=bounds, **kwargs)
            assert (bounded.passage_ids, bounded.passages, bounded.n_tokens) == \
                (plain.passage_ids, plain.passages, plain.n_tokens), name
            assert bounded.n_passages == plain.n_passages > 0
            if name != "lead":
                assert len(bounded_calls) < len(plain_calls) / 2, (name, len(bounded_calls), len(plain_calls))
