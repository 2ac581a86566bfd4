"""The retrievers: registry, bm25, centrality, oracle, hybrid, position prior, coverage."""
import pytest
from rouge_score import rouge_scorer

from summ_plugin.retrieval import (Passage, Retriever, available_retrievers, build_retriever,
                                   register_retriever, retrieval_coverage, select_source,
                                   split_passages)


def word_count(text):
    return len(text.split())


# unrelated sentences that share no content word with each other
FILLER = [f"The {w} {verb} the {v}." for w, verb, v in zip(
    "barn mill gate pond cart tower bridge fence shed wall".split(),
    "faced crossed guarded fed blocked shaded spanned circled housed lined".split(),
    "creek hill road field lane wood farm yard path square".split())]


def test_registry_names_errors_and_duplicates():
    assert {"lead", "bm25", "centrality", "oracle", "hybrid", "learned"} <= set(available_retrievers())
    with pytest.raises(ValueError, match="unknown retriever 'nope'.*bm25"):
        build_retriever("nope")
    with pytest.raises(ValueError, match="does not take option.*k3.*it takes: k1, b, position_prior"):
        build_retriever("bm25", k3=1)
    with pytest.raises(ValueError, match="does not take"):
        build_retriever("hybrid", scorer="bm25", bogus=1)
    with pytest.raises(ValueError, match="already registered"):
        @register_retriever("bm25")
        class Again(Retriever):
            pass


def test_options_are_validated_and_converted():
    assert build_retriever("bm25", k1="1.5", b="0.5").k1 == 1.5
    with pytest.raises(ValueError, match="k1"):
        build_retriever("bm25", b=2)
    with pytest.raises(ValueError, match="pad"):
        build_retriever("oracle", pad="middle")
    with pytest.raises(ValueError, match="lead_share"):
        build_retriever("hybrid", lead_share=1.5)
    with pytest.raises(ValueError, match="scorer"):
        build_retriever("hybrid", scorer="oracle")
    with pytest.raises(ValueError, match="selector=PATH"):
        build_retriever("learned")


def test_bm25_ranks_the_query_match_first_and_uses_k1_b():
    passages = split_passages([" ".join(FILLER[:5]) + " Zorbax Motors opened a plant. " + " ".join(FILLER[5:])])
    target = next(i for i, p in enumerate(passages) if "Zorbax" in p.text)
    for options in ({}, {"k1": 2.0, "b": 0.3}):
        order = build_retriever("bm25", **options).rank(passages, "what did zorbax do", None, None)
        assert order[0] == target


def test_bm25_pseudo_query_title_then_centroid():
    text = (" ".join(FILLER[:6]) + " Zorbax Motors grew. Zorbax Motors hired staff. "
            "Zorbax Motors opened a plant. " + " ".join(FILLER[6:]))
    passages = split_passages([text])
    bm25 = build_retriever("bm25")
    # no query, no title: the document's own top terms (zorbax, motors) are the query
    top3 = {passages[i].text for i in bm25.rank(passages, None, None, None)[:3]}
    assert all("Zorbax" in t for t in top3)
    # a title steers it elsewhere
    assert "creek" in passages[bm25.rank(passages, None, None, "creek")[0]].text


def test_centrality_prefers_the_shared_topic_over_unrelated_sentences():
    topic = ["The harbor festival drew crowds to the harbor.", "Crowds at the harbor festival cheered.",
             "The festival at the harbor ended with fireworks over the harbor crowds."]
    passages = split_passages([" ".join(FILLER[:4] + topic[:1] + FILLER[4:8] + topic[1:] + FILLER[8:])])
    order = build_retriever("centrality").rank(passages, None, None, None)
    assert {passages[i].text for i in order[:3]} == set(topic)


def test_position_prior_favours_earlier_passages():
    passages = [Passage(i, 0, "same words here") for i in range(5)]
    scores = build_retriever("bm25", position_prior=1.0).weighted_scores(passages, "words", None, None)
    assert all(scores[i] > scores[i + 1] for i in range(4))
    with pytest.raises(ValueError, match="position_prior"):
        build_retriever("centrality", position_prior=-1)


REFERENCE = "Zorbax Motors opened a plant in Riverton.\nThe plant will build buses."
DOCUMENT = (" ".join(FILLER[:4]) + " The plant will build electric buses. " + " ".join(FILLER[4:8])
            + " Zorbax Motors opened a plant in Riverton last May. " + " ".join(FILLER[8:]))


def test_oracle_picks_the_reference_sentences_then_pads():
    passages = split_passages([DOCUMENT])
    key = sorted(i for i, p in enumerate(passages) if "plant" in p.text)
    none = build_retriever("oracle", pad="none").rank(passages, None, REFERENCE, None)
    assert sorted(none) == key
    lead = build_retriever("oracle").rank(passages, None, REFERENCE, None)
    assert lead[:2] == none and lead[2:] == [i for i in range(len(passages)) if i not in key]
    random_a = build_retriever("oracle", pad="random").rank(passages, None, REFERENCE, None)
    random_b = build_retriever("oracle", pad="random").rank(passages, None, REFERENCE, None)
    assert random_a == random_b  # seeded by the record's content
    assert random_a[:2] == none and sorted(random_a) == list(range(len(passages)))
    assert random_a[2:] != lead[2:]
    with pytest.raises(ValueError, match="reference"):
        build_retriever("oracle").rank(passages, None, None, None)


def test_oracle_coverage_beats_lead():
    documents = [DOCUMENT]
    covers = {}
    for name in ("lead", "oracle", "bm25"):
        selection = select_source(documents, query=None, reference=REFERENCE, title=None,
                                  retriever=build_retriever(name), max_positions=30, count_tokens=word_count)
        covers[name] = retrieval_coverage(" ".join(selection.passages), REFERENCE)["rouge1_recall"]
    assert covers["oracle"] == 1.0
    assert covers["lead"] < 0.5


def test_hybrid_gives_the_lead_share_to_the_opening():
    passages_text = ["Opening words here now."] + FILLER + ["Zorbax Motors opened a plant."]
    documents = [" ".join(passages_text)]
    selection = select_source(documents, query="zorbax plant", reference=None, title=None,
                              retriever=build_retriever("hybrid", lead_share=0.3), max_positions=20,
                              count_tokens=word_count)
    # budget 20 - 2 - (2 + 1) = 15: 4 tokens of lead share -> the opening, then zorbax
    assert selection.passages[0] == "Opening words here now."
    assert "Zorbax Motors opened a plant." in selection.passages
    no_lead = select_source(documents, query="zorbax plant", reference=None, title=None,
                            retriever=build_retriever("hybrid", lead_share=0.0), max_positions=20,
                            count_tokens=word_count)
    plain_bm25 = select_source(documents, query="zorbax plant", reference=None, title=None,
                               retriever=build_retriever("bm25"), max_positions=20,
                               count_tokens=word_count)
    assert no_lead.passages == plain_bm25.passages
    # the lead share counts whole passages in order: a share too small for the opening
    # takes nothing, and bm25 fills the rest
    tiny = select_source(documents, query="zorbax plant", reference=None, title=None,
                         retriever=build_retriever("hybrid", lead_share=0.2), max_positions=20,
                         count_tokens=word_count)
    assert tiny.passages == plain_bm25.passages
    with_centrality = build_retriever("hybrid", scorer="centrality", damping=0.5)
    assert with_centrality.scorer.damping == 0.5


@pytest.mark.parametrize("selected, reference", [
    ("The cats were running quickly in 2024!", "cats run quickly. In 2024 cats ran"),
    ("", "something"),
    ("Ünïcode wörds and numbers 3.5", "unicode words numbers 3 5"),
])
def test_coverage_equals_rouge_score_recall(selected, reference):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    expected = scorer.score(reference, selected)
    got = retrieval_coverage(selected, reference)
    assert got["rouge1_recall"] == pytest.approx(expected["rouge1"].recall)
    assert got["rouge2_recall"] == pytest.approx(expected["rouge2"].recall)
