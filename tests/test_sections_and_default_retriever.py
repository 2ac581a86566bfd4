"""Issue 12: sections in, the learned selector (trees as data), and the default retriever's choice."""
import json
import os
import pickle
import random

import numpy as np
import pytest

from summ_plugin.data.formats import iter_input_records
from summ_plugin.data.records import Record
from summ_plugin.retrieval import approx_token_count, build_retriever, split_passages
from summ_plugin.retrieval.budget import Budget
from summ_plugin.retrieval.choice import choose_retriever
from summ_plugin.retrieval.features import FEATURE_NAMES, passage_features
from summ_plugin.retrieval.learned import LearnedSelector, train_selector
from summ_plugin.retrieval.passages import split_sections

PAPER = """1 Introduction

We study retrieval for long inputs. It matters.

2.1 Related Work

Others truncate the input.

Results on real papers

The selector covers more of the reference.

7 Conclusion

We conclude here."""


def test_plain_text_headings_become_sections_not_passages():
    assert [title for title, _ in split_sections(PAPER)] == [
        "1 Introduction", "2.1 Related Work", "Results on real papers", "7 Conclusion"]
    passages = split_passages([PAPER])
    assert [(p.section, p.section_title, p.text) for p in passages] == [
        (0, "1 Introduction", "We study retrieval for long inputs."),
        (0, "1 Introduction", "It matters."),
        (1, "2.1 Related Work", "Others truncate the input."),
        (2, "Results on real papers", "The selector covers more of the reference."),
        (3, "7 Conclusion", "We conclude here."),
    ]
    with_headings = split_passages([PAPER], keep_headings=True)
    assert [p.text for p in with_headings][:2] == ["1 Introduction", "We study retrieval for long inputs."]


@pytest.mark.parametrize("text", [
    # a transcript of short unpunctuated turns: too many candidates to be headings
    "Speaker A\nhello there how are you\nSpeaker B\nfine thanks and you\nSpeaker A\ngood",
    # a short last line is never a heading (nothing follows it)
    "A sentence that ends properly.\n\nThe End",
    # lines ending like sentences or clauses are text
    "This is text.\nAnd this, too,\nNot a heading:\nreally not.",
])
def test_text_without_headings_stays_one_section(text):
    assert split_sections(text) == [("", text)]


def test_markdown_and_numbered_headings_are_certain_even_when_frequent():
    text = "# A\nx.\n## B\ny.\n3.2 Results\nz."
    assert [title for title, _ in split_sections(text)] == ["A", "B", "3.2 Results"]


def _write(path, objs):
    with open(path, "w", encoding="utf-8") as handle:
        for obj in objs:
            handle.write(json.dumps(obj) + "\n")
    return str(path)


def test_cohan_arxiv_pubmed_layout(tmp_path):
    path = _write(tmp_path / "train.jsonl", [{
        "article_id": "arxiv-1",
        "article_text": ["we study x .", "it works ."],
        "abstract_text": ["<S> we study x . </S>", "<S> it works well . </S>"],
        "section_names": ["introduction", "conclusions"],
        "sections": [["we study x .", "more on x ."], ["it works ."]],
        "labels": None,
    }])
    (record,) = list(iter_input_records(path))
    assert record.id == "arxiv-1"
    assert record.summary == "we study x .\nit works well ."
    assert [(p.section_title, p.text) for p in split_passages(record.documents)] == [
        ("introduction", "we study x ."), ("introduction", "more on x ."), ("conclusions", "it works .")]


def test_cohan_layout_without_sections_uses_article_text(tmp_path):
    path = _write(tmp_path / "valid.jsonl", [{
        "article_id": "p2", "article_text": ["first sentence .", "second ."], "abstract_text": ["<S> a . </S>"]}])
    (record,) = list(iter_input_records(path))
    assert record.documents == ["first sentence .\nsecond ."] and record.summary == "a ."


def test_flat_article_abstract_layout(tmp_path):
    path = _write(tmp_path / "test.jsonl", [{"article": "we study x .\nit works .", "abstract": "we study x ."}])
    (record,) = list(iter_input_records(path))
    assert (record.id, record.documents, record.summary) == ("test-0", ["we study x .\nit works ."], "we study x .")


def test_sections_field_of_the_record_format(tmp_path):
    path = _write(tmp_path / "train.jsonl", [
        {"id": "a", "summary": "s", "sections": [{"title": "Intro", "text": "One. Two."}, {"title": "End", "text": "Three."}]},
        {"id": "b", "summary": "s", "sections": [{"title": "Intro"}]},
        {"id": "c", "summary": "s", "document": "x.", "sections": [{"title": "T", "text": "y."}]},
    ])
    first, second, third = list(iter_input_records(path))
    assert isinstance(first, Record)
    assert [(p.section, p.section_title, p.text) for p in split_passages(first.documents)] == [
        (0, "Intro", "One."), (0, "Intro", "Two."), (1, "End", "Three.")]
    assert "train.jsonl:2" in str(second) and "item 0" in str(second)
    assert "train.jsonl:3" in str(third) and "give one of them" in str(third)


def test_features_see_both_ends_and_sections():
    passages = split_passages([PAPER])
    features = passage_features(passages, None, "Retrieval for long inputs")
    column = {name: i for i, name in enumerate(FEATURE_NAMES)}
    assert features[:, column["log_passages_before"]].tolist() == pytest.approx(np.log1p([0, 1, 2, 3, 4]).tolist())
    assert features[:, column["log_passages_after"]].tolist() == pytest.approx(np.log1p([4, 3, 2, 1, 0]).tolist())
    assert features[:, column["section_introduction"]].tolist() == [1, 1, 0, 0, 0]
    assert features[:, column["section_conclusion"]].tolist() == [0, 0, 0, 0, 1]
    assert features[:, column["section_result"]].tolist() == [0, 0, 0, 1, 0]
    assert features[:, column["log_sections_after"]].tolist() == pytest.approx(np.log1p([3, 3, 2, 1, 0]).tolist())
    assert features[:, column["has_sections"]].tolist() == [1, 1, 1, 1, 1]


# ----------------------------------------------------------------------------- the selector

def _corpus(n, seed, summary_from):
    """Documents of distinct sentences; the summary copies two from the start or the end."""
    rng = random.Random(seed)
    records = []
    for k in range(n):
        sentences = [" ".join(f"W{rng.randrange(5000)}" for _ in range(rng.randint(6, 12))) + "."
                     for _ in range(rng.randint(25, 35))]
        picked = sentences[:2] if summary_from == "start" else sentences[-2:]
        records.append(Record(id=str(k), documents=[" ".join(sentences)], summary="\n".join(picked)))
    return records


def _examples(records):
    from summ_plugin.retrieval.learned import oracle_labelled_features

    return [oracle_labelled_features(r.documents, r.query, r.title, r.summary, "sentence") for r in records]


def test_selector_training_is_deterministic_and_scores_as_the_library(tmp_path):
    examples = _examples(_corpus(30, 1, "end"))
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    train_selector(examples).save(str(first))
    train_selector(examples).save(str(second))
    assert first.read_bytes() == second.read_bytes()
    loaded = LearnedSelector.load(str(first))
    from sklearn.ensemble import HistGradientBoostingClassifier

    from summ_plugin.retrieval.learned import BOOSTING
    features = np.vstack([f for f, _ in examples])
    labels = np.concatenate([y for _, y in examples])
    reference = HistGradientBoostingClassifier(early_stopping=False, random_state=0, **BOOSTING).fit(features, labels)
    assert np.allclose(loaded.score_features(features), reference.decision_function(features), rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def valid_selector_json(tmp_path_factory):
    """A selector file's text, trained once for all the corruption cases below."""
    path = tmp_path_factory.mktemp("selector") / "ok.json"
    train_selector(_examples(_corpus(12, 2, "end"))).save(str(path))
    return path.read_text()


@pytest.mark.parametrize("corrupt, message", [
    (lambda d: d["trees"][0].update(left=[0] * len(d["trees"][0]["left"])), "children must be nodes after"),
    (lambda d: d["trees"][0].update(feature=[999] * len(d["trees"][0]["feature"])), "split feature out of range"),
    (lambda d: d["trees"][0].update(value=d["trees"][0]["value"][:-1]), "equal length"),
    (lambda d: d["trees"][0].update(value=["x"] * len(d["trees"][0]["value"])), "ok.json"),
    (lambda d: d.update(trees={"not": "a list"}), "must be a list"),
    (lambda d: d.update(version=1), "retrain"),
    (lambda d: d.update(features=["position"]), "differs from this code's features"),
])
def test_crafted_selector_files_are_refused_with_the_path(valid_selector_json, tmp_path, corrupt, message):
    data = json.loads(valid_selector_json)
    corrupt(data)
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as err:
        LearnedSelector.load(str(path))
    assert str(path) in str(err.value)


class _Boom:
    def __reduce__(self):
        return (os.mkdir, (_Boom.target,))


def test_loading_a_pickle_as_selector_runs_no_code(tmp_path):
    _Boom.target = str(tmp_path / "pwned")
    path = tmp_path / "selector.json"
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ValueError, match="not a selector JSON file"):
        build_retriever("learned", selector=str(path))
    assert not os.path.exists(_Boom.target)


# ----------------------------------------------------------------------------- the default

BUDGET = Budget(max_positions=60, count_tokens=approx_token_count)


def test_default_is_lead_when_lead_covers_best(tmp_path):
    choice = choose_retriever(_corpus(30, 3, "start"), _corpus(10, 4, "start"), BUDGET, str(tmp_path / "s.json"))
    assert choice.retriever == "lead" and choice.options == {}
    lead = choice.table[0]
    assert lead["retriever"] == "lead" and lead["rouge2_recall"] == pytest.approx(1.0)
    # the learned candidates name their selector's objective (tests/test_query_retrieval.py)
    assert [(row["retriever"], row.get("objective")) for row in choice.table] == [("lead", None)] + [
        (name, "blend") for name in ("learned", "hybrid", "hybrid", "hybrid")]
    assert not os.listdir(tmp_path)  # lead chosen: no selector file left behind


def test_default_learns_the_end_when_the_summary_is_there(tmp_path):
    selector = str(tmp_path / "s.json")
    choice = choose_retriever(_corpus(30, 5, "end"), _corpus(10, 6, "end"), BUDGET, selector)
    assert choice.retriever in ("learned", "hybrid") and choice.options["selector"] == selector
    chosen = next(row for row in choice.table if (row["retriever"], row["options"]) == (choice.retriever, choice.options))
    assert chosen["rouge2_recall"] > 0.9 > choice.table[0]["rouge2_recall"]


def test_default_without_records_to_learn_from_is_lead(tmp_path):
    choice = choose_retriever([], _corpus(3, 7, "end"), BUDGET, str(tmp_path / "s.json"))
    assert choice.retriever == "lead" and "no records" in choice.reason
    assert not os.path.exists(tmp_path / "s.json")
