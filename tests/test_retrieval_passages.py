"""Passage splitting: the rule-based sentence splitter, paragraphs and windows."""
import pytest
from hypothesis import given, settings, strategies as st

from summ_plugin.retrieval import split_passages, split_sentences


@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith went home. He slept.", ["Dr. Smith went home.", "He slept."]),
    ("She moved to the U.S. Army base. It was cold.", ["She moved to the U.S. Army base.", "It was cold."]),
    ("Revenue rose 3.5 percent. Costs fell.", ["Revenue rose 3.5 percent.", "Costs fell."]),
    ("J. K. Rowling wrote it. Fans cheered.", ["J. K. Rowling wrote it.", "Fans cheered."]),
    ('He said "no." Then he left.', ['He said "no."', "Then he left."]),
    ("It ended (finally.) Next came more.", ["It ended (finally.)", "Next came more."]),
    ("Was it late? Yes! It was.", ["Was it late?", "Yes!", "It was."]),
    ("Wait... it works. Fine.", ["Wait... it works.", "Fine."]),
    ("See No. 5 and Fig. 3 here. I said no. Then left.", ["See No. 5 and Fig. 3 here.", "I said no.", "Then left."]),
    ("Bring pens, paper, etc. The rest is ready.", ["Bring pens, paper, etc.", "The rest is ready."]),
    ("approx. five people came", ["approx. five people came"]),
    ("SPEAKER A: hello there\nSPEAKER B: hi", ["SPEAKER A: hello there", "SPEAKER B: hi"]),
    ("  \n\t \n", []),
])
def test_sentence_splitter_rules(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_is_not_a_period_split():
    # a naive text.split('.') would cut all of these
    text = "Mr. A. B. Jones of Acme Inc. paid 2.75 dollars, e.g. for U.S. stamps."
    assert split_sentences(text) == [text]


def test_sentence_mode_numbers_passages_over_all_documents():
    passages = split_passages(["One. Two.\n\nThree.", "Four. Five."])
    assert [p.id for p in passages] == [0, 1, 2, 3, 4]
    assert [p.doc for p in passages] == [0, 0, 0, 1, 1]
    assert [p.paragraph for p in passages] == [0, 0, 1, 0, 0]
    assert [p.text for p in passages] == ["One.", "Two.", "Three.", "Four.", "Five."]


def test_paragraph_mode_splits_on_blank_lines_only():
    passages = split_passages(["a b.\nc d.\n\n  \n\ne f.", "   ", "g."], mode="paragraph")
    assert [(p.doc, p.text) for p in passages] == [(0, "a b.\nc d."), (0, "e f."), (2, "g.")]


def test_window_mode_overlaps_and_covers_the_tail():
    words = " ".join(f"w{i}" for i in range(10))
    passages = split_passages([words], mode="window", window=4, stride=3)
    assert [p.text.split() for p in passages] == [
        ["w0", "w1", "w2", "w3"], ["w3", "w4", "w5", "w6"], ["w6", "w7", "w8", "w9"]]
    covered = {w for p in passages for w in p.text.split()}
    assert covered == set(words.split())


def test_window_mode_rejects_gaps_and_bad_sizes():
    with pytest.raises(ValueError, match="stride"):
        split_passages(["a b c"], mode="window", window=2, stride=3)
    with pytest.raises(ValueError, match=">= 1"):
        split_passages(["a b c"], mode="window", window=0, stride=0)
    with pytest.raises(ValueError, match="unknown split mode"):
        split_passages(["a"], mode="words")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4),
       st.sampled_from(["sentence", "paragraph", "window"]))
def test_no_empty_passages_and_no_lost_words(documents, mode):
    passages = split_passages(documents, mode=mode, window=7, stride=5)
    assert all(p.text.strip() for p in passages)
    assert [p.id for p in passages] == list(range(len(passages)))
    for doc_index, document in enumerate(documents):
        kept = "".join("".join(p.text.split()) for p in passages if p.doc == doc_index)
        original = "".join(document.split())
        if mode == "window":
            assert set(document.split()) == {w for p in passages if p.doc == doc_index for w in p.text.split()}
        else:
            assert kept == original  # splitting only drops whitespace
