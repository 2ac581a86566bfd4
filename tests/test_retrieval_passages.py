"""Passage splitting: the rule-based sentence splitter, paragraphs and windows."""
from collections import Counter

import pytest
from hypothesis import example, given, settings, strategies as st

from summ_plugin.retrieval import split_passages, split_sentences
from summ_plugin.retrieval.passages import split_sections


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


def _non_space(text):
    return "".join(text.split())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4),
       st.sampled_from(["sentence", "paragraph", "window"]))
@example(["0 A\r0"], "sentence")
@example(["# A\n## B #\nb # c\n\n1 D\nx"], "paragraph")
def test_no_empty_passages_and_no_lost_words(documents, mode):
    """Splitting drops only whitespace, and in sentence/paragraph mode the heading lines: with
    keep_headings they come back as passages, and then nothing but Markdown's '#' marks is gone."""
    passages = split_passages(documents, mode=mode, window=7, stride=5)
    assert all(p.text.strip() for p in passages)
    assert [p.id for p in passages] == list(range(len(passages)))
    if mode == "window":
        for doc_index, document in enumerate(documents):
            assert set(document.split()) == {w for p in passages if p.doc == doc_index for w in p.text.split()}
        return
    with_headings = split_passages(documents, mode=mode, keep_headings=True)
    for doc_index, document in enumerate(documents):
        kept = _non_space("".join(p.text for p in with_headings if p.doc == doc_index))
        original = _non_space(document)
        assert kept.replace("#", "") == original.replace("#", "")  # in order
        assert kept.count("#") <= original.count("#")
        headings = _non_space("".join(title for title, _ in split_sections(document)))
        body = _non_space("".join(p.text for p in passages if p.doc == doc_index))
        assert Counter(body) + Counter(headings) == Counter(kept)  # headings, and only they, leave the text


@pytest.mark.parametrize("document, headings", [
    ("1 Introduction\nWe study retrieval.", ["1 Introduction"]),
    ("Results on real papers\nThe selector covers more.\nIt wins.\nClearly so.", ["Results on real papers"]),
    # a heading introduces text: a label over numbers or symbols stays text (issue 22)
    ("0 A\r0", []),
    ("Table 1\n0.5 0.7 0.9\nThe table shows it.\nIt is clear.", []),
    ("2 Methods\n2.1 Data\nWe collected it.", ["2 Methods", "2.1 Data"]),
    ("# Scope\n42", ["Scope"]),  # Markdown is explicit structure: always a heading
])
def test_a_heading_is_a_short_line_that_introduces_text(document, headings):
    assert [title for title, _ in split_sections(document) if title] == headings
    passages = split_passages([document])
    kept = Counter(_non_space("".join(p.text for p in passages))) + Counter(_non_space("".join(headings)))
    assert kept == Counter(_non_space(document).replace("#", ""))
