"""Issue 21 items 3-5 and issue 25 items 7 and 10: query-aware candidates, features that see the
question in context (and transcripts' speakers), the density-trained selector (format version
3, version 2 still read), seeded sampling across documents, "no signal keeps lead", and
features linear in the number of documents."""
import json
import os
import random

import numpy as np
import pytest

from summ_plugin.data.config import PrepareConfig
from summ_plugin.data.prepare import _sample_records
from summ_plugin.data.records import Record
from summ_plugin.retrieval import approx_token_count, split_passages
from summ_plugin.retrieval.budget import Budget
from summ_plugin.retrieval.choice import CANDIDATES, MIN_SIGNAL_ROUGE2, choose_retriever, score_candidates
from summ_plugin.retrieval.features import FEATURE_NAMES, passage_features, query_content_terms
from summ_plugin.retrieval.learned import (
    LearnedSelector, blend_targets, passage_densities, train_selector,
)
from tests._prepare_fixtures import write_jsonl

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


def column(features, name):
    return features[:, COLUMN[name]]


# ----------------------------------------------------------------------------- features

def _story(answer_at: int, n: int = 12):
    sentences = [f"The crew walked along corridor number {i} in silence." for i in range(n)]
    sentences[answer_at] = "The engineer repaired the reactor with a wrench."
    return " ".join(sentences)


def test_query_features_see_the_neighbourhood_and_the_rank():
    passages = split_passages([_story(5)])
    features = passage_features(passages, "How was the reactor repaired?", None)
    bm25 = column(features, "bm25")
    assert bm25[5] == 1.0 and bm25[[0, 1, 2, 8, 11]].max() == 0.0
    best = column(features, "query_window_best")
    # within 2 passages of the answer (same document) the best is the answer's score
    assert list(best[3:8]) == [1.0] * 5 and best[2] == 0.0 and best[8] == 0.0
    mean = column(features, "query_window_mean")
    assert mean[5] == pytest.approx(1 / 5) and mean[0] == 0.0
    assert mean[3] == pytest.approx(1 / 5) and mean[7] == pytest.approx(1 / 5)
    wide = column(features, "query_wide_mean")
    assert wide[5] == pytest.approx(1 / 12) and wide[0] == pytest.approx(1 / 9)  # 0..8, the answer among them
    rank = column(features, "query_rank_in_document")
    assert rank[5] == 0.0 and rank.max() == 1.0 and sorted(rank * 11) == list(range(12))
    share = column(features, "query_term_share")
    assert share[5] == pytest.approx(2 / 2)  # "reactor", "repaired" (stems differ: "repaired" is its own term)
    assert column(features, "query_term_share_window")[4] == pytest.approx(share[5])
    assert column(features, "query_similarity")[5] > 0 == column(features, "query_similarity")[0]
    assert column(features, "general_query").max() == 0.0


def test_windows_stay_inside_their_document():
    passages = split_passages([_story(11), _story(0)])
    features = passage_features(passages, "reactor wrench", None)
    best = column(features, "query_window_best")
    # the first document's last passage and the second's first both answer; the window of the
    # first document's passage 10 sees its own answer (11), not across the boundary
    assert best[9] == 1.0 and best[8] == 0.0
    assert best[12 + 2] == 1.0 and best[12 + 3] == 0.0
    rank = column(features, "query_rank_in_document")
    assert rank[11] == 0.0 and rank[12] == 0.0


@pytest.mark.parametrize("query,general", [
    ("What is the plot of the story?", True), ("Summarize the meeting.", True),
    ("What was discussed?", True), ("What happens to Mary at the docks?", False),
    ("What did the group say about the remote control design?", False)])
def test_general_questions_are_told_apart(query, general):
    features = passage_features(split_passages([_story(3)]), query, None)
    assert column(features, "general_query")[0] == (1.0 if general else 0.0)
    assert (not query_content_terms(query)) == general


TRANSCRIPT = "\n".join([
    "Project Manager: Welcome everyone, today we discuss the remote control.",
    "Marketing: Users want a remote that is easy to find. They lose it often.",
    "Project Manager: Good point.",
    "Industrial Designer: The case could be made of rubber. It would survive drops and it would feel soft.",
    "Marketing: Rubber is fine.",
])


def test_transcript_lines_know_their_speaker():
    passages = split_passages([TRANSCRIPT, "A plain document. It has no speakers: none at all. Really."])
    features = passage_features(passages, "What did the industrial designer say about the case?", None)
    texts = [p.text for p in passages]
    turn = column(features, "speaker_turn")
    assert list(turn[:7]) == [1.0] * 7 and turn[7:].max() == 0.0
    second = texts.index("They lose it often.")  # the second sentence of a turn keeps its speaker
    assert features[second, COLUMN["speaker_share"]] == features[1, COLUMN["speaker_share"]]
    words = [len(t.split()) for t in texts[:7]]
    marketing = words[1] + words[2] + words[6]
    assert features[1, COLUMN["speaker_share"]] == pytest.approx(marketing / sum(words))
    assert features[1, COLUMN["log_turn_words"]] == pytest.approx(np.log1p(words[1] + words[2]))
    named = column(features, "speaker_in_query")
    designer = [i for i, t in enumerate(texts) if t.startswith("Industrial Designer") or t.startswith("It would")]
    assert set(np.flatnonzero(named)) == set(designer)


def test_a_colon_in_prose_is_not_a_transcript():
    passages = split_passages(["Note: this is prose. Results: good. The end is near and we stop here."])
    features = passage_features(passages, "results", None)
    assert column(features, "speaker_turn").max() == 0.0


def test_features_are_linear_in_the_number_of_documents():
    # issue 25 item 10: one record of 50,000 tiny documents took minutes (quadratic per-document
    # loops); now seconds. Checked by its values: every passage is first and last of its document.
    documents = [f"Speaker {i % 5}: word{i} and more." for i in range(50_000)]
    passages = split_passages(documents)
    features = passage_features(passages, "what about word7", None)
    assert features.shape == (50_000, len(FEATURE_NAMES))
    assert column(features, "position_in_document").max() == 0.0
    assert column(features, "log_words_before").max() == 0.0
    assert column(features, "document_index")[-1] == 1.0
    # each passage's opening text is itself
    assert np.allclose(column(features, "opening_similarity"), 1.0)
    assert column(features, "query_window_best")[6:9].tolist() == [0.0, 1.0, 0.0]
    # a query of thousands of terms stays sparse (no passages x terms dense matrix)
    features = passage_features(passages, " ".join(f"word{i}" for i in range(0, 50_000, 5)), None)
    assert column(features, "query_term_share_window")[:6].tolist() == [1 / 10_000, 0, 0, 0, 0, 1 / 10_000]


# ----------------------------------------------------------------------------- the selector

def test_density_targets_favour_dense_passages_and_average_the_references():
    texts = ["The reactor was repaired by the engineer with a wrench.",
             "Long filler about corridors and silence and walking and nothing else at all happening here today.",
             "The engineer repaired the reactor; the reactor was repaired."]
    densities = passage_densities(texts, ["the reactor was repaired by the engineer"])
    assert densities.max() == 1.0 and densities[1] == 0.0 and densities[0] == 1.0
    both = passage_densities(texts, ["the reactor was repaired by the engineer", "zebras yodel"])
    assert np.allclose(both, densities)  # scaled to the record's best: the unshared reference adds nothing
    assert not passage_densities(texts, ["zebras yodel quietly"]).any()


def test_blend_targets_are_half_oracle_half_density():
    picks = np.array([1.0, 0.0, 0.0])
    densities = np.array([0.2, 1.0, 0.0])
    assert blend_targets(picks, densities).tolist() == [0.6, 0.5, 0.0]


def test_several_objectives_give_one_selector_each():
    from summ_plugin.retrieval.choice import DEFAULT_OBJECTIVES, train_selectors_on

    selectors = train_selectors_on(_qa_corpus(12, 8), "sentence", objectives=("oracle", "density", "blend"))
    assert {name: s.objective for name, s in selectors.items()} == {
        "oracle": "oracle", "density": "density", "blend": "blend"}
    assert DEFAULT_OBJECTIVES == ("blend",)


def _qa_corpus(n, seed):
    """Stories whose answer (to the question) sits in a random middle passage."""
    rng = random.Random(seed)
    things = ["reactor", "engine", "antenna", "airlock", "compass", "lantern", "ledger", "garden"]
    records = []
    for i in range(n):
        thing = rng.choice(things)
        answer_at = rng.randrange(4, 14)
        sentences = [f"Filler sentence {j} tells of {rng.choice(things[:1] + ['dust', 'stars'])} and distant "
                     f"hills beyond the valley." for j in range(16)]
        sentences[answer_at] = f"The captain fixed the broken {thing} with copper wire at dawn."
        records.append(Record(id=f"s{i}", documents=[" ".join(sentences)], query=f"What happened to the {thing}?",
                              summary=f"The captain fixed the broken {thing} with copper wire.",
                              more_references=(f"At dawn the {thing} was fixed with copper wire.",)))
    return records


BUDGET = Budget(max_positions=40, count_tokens=approx_token_count)


def test_query_records_get_query_aware_candidates_and_beat_lead(tmp_path):
    selector = str(tmp_path / "s.json")
    choice = choose_retriever(_qa_corpus(40, 1), _qa_corpus(15, 2), BUDGET, selector)
    names = [(row["retriever"], row["options"].get("scorer"), row.get("objective")) for row in choice.table]
    assert names[:3] == [("lead", None, None), ("bm25", None, None), ("hybrid", "bm25", None)]
    assert ("learned", None, "blend") in names
    assert choice.retriever != "lead"
    chosen = next(row for row in choice.table if (row["retriever"], row["options"], row.get("objective")) ==
                  (choice.retriever, choice.options, choice.objective))
    assert chosen["rouge2_recall"] > choice.table[0]["rouge2_recall"] + 0.3
    # only the chosen selector is kept, at the path given
    assert os.listdir(tmp_path) == (["s.json"] if choice.objective else [])
    if choice.objective:
        assert LearnedSelector.load(selector).objective == choice.objective
        assert choice.options["selector"] == selector


def test_the_choice_keeps_the_selector_of_the_winning_objective(tmp_path):
    # answers at the end of every story: a learned candidate must win
    records = []
    for i, record in enumerate(_qa_corpus(60, 7)):
        sentences = record.documents[0].split(". ")
        answer = next(s for s in sentences if "copper" in s)
        sentences.remove(answer)
        records.append(Record(id=record.id, documents=[". ".join(sentences + [answer])], query="What happened?",
                              summary=record.summary))
    selector = str(tmp_path / "sel.json")
    choice = choose_retriever(records[:40], records[40:], BUDGET, selector)
    assert choice.objective == "blend" and choice.options["selector"] == selector
    assert os.listdir(tmp_path) == ["sel.json"]
    assert LearnedSelector.load(selector).objective == choice.objective
    for row in choice.table:
        if row.get("objective") == choice.objective:
            assert row["options"]["selector"] == selector
        else:
            assert "selector" not in row["options"]


def test_records_without_query_keep_the_old_candidates(tmp_path):
    records = [Record(id=r.id, documents=r.documents, summary=r.summary) for r in _qa_corpus(12, 3)]
    choice = score_candidates(records, None, BUDGET)
    assert [row["retriever"] for row in choice.table] == ["lead"]
    assert [name for name, _ in CANDIDATES] == ["lead", "learned", "hybrid", "hybrid", "hybrid"]


@pytest.mark.parametrize("summary", ["Die Katze schläft heute lange im warmen Garten.", "QUERY"])
def test_no_signal_keeps_lead_and_says_why(tmp_path, summary):
    # issue 25 item 7: summaries sharing nothing with the documents (another language, copies of
    # the query) logged "learned covers more ... (0.0 vs 0.0)"; now lead, with the reason
    def corpus(n, seed):
        out = []
        for r in _qa_corpus(n, seed):
            text = "Wie geht es dir heute" if summary == "QUERY" else summary
            out.append(Record(id=r.id, documents=r.documents, query=text if summary == "QUERY" else r.query,
                              summary=text))
        return out
    choice = choose_retriever(corpus(20, 4), corpus(8, 5), BUDGET, str(tmp_path / "s.json"))
    assert choice.retriever == "lead" and choice.options == {}
    assert choice.reason.startswith("no signal") and "lead (truncation)" in choice.reason
    assert all(row["rouge2_recall"] < MIN_SIGNAL_ROUGE2 for row in choice.table)


def _selector_dict(tmp_path):
    rng = np.random.RandomState(0)
    features = rng.rand(300, len(FEATURE_NAMES))
    labels = (features[:, 0] > 0.7).astype(float)
    selector = train_selector([(features, labels)])
    path = tmp_path / "s.json"
    selector.save(str(path))
    return selector, json.loads(path.read_text()), features


def test_selector_version_3_records_its_objective_and_version_2_is_still_read(tmp_path):
    selector, data, features = _selector_dict(tmp_path)
    assert data["version"] == 3 and data["objective"] == "oracle" and data["features"] == FEATURE_NAMES
    # a version-2 file: the first 36 features, no objective; its trees split on those only
    old = dict(data, version=2, features=FEATURE_NAMES[:36])
    del old["objective"]
    for tree in old["trees"]:
        tree["feature"] = [f % 36 for f in tree["feature"]]
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(old))
    loaded = LearnedSelector.load(str(path))
    assert loaded.objective == "oracle" and loaded.version == 2
    assert np.all(np.isfinite(loaded.score_features(features)))
    # a v2 file naming a feature beyond its own list is refused
    bad = json.loads(path.read_text())
    bad["trees"][0]["feature"][0] = 40
    bad["trees"][0]["left"][0] = max(bad["trees"][0]["left"][0], 1)
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="out of range 0..35"):
        LearnedSelector.load(str(path))


@pytest.mark.parametrize("change,message", [
    ({"version": 1}, "selector version 1, this code reads versions 2, 3; retrain"),
    ({"version": 4}, "selector version 4"),
    ({"objective": "magic"}, "key 'objective' must be one of oracle, density, blend"),
    ({"features": FEATURE_NAMES[:36]}, "key 'features' differs"),
])
def test_unreadable_selector_versions_are_refused_clearly(tmp_path, change, message):
    _, data, _ = _selector_dict(tmp_path)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(dict(data, **change)))
    with pytest.raises(ValueError, match=message) as info:
        LearnedSelector.load(str(path))
    assert str(info.value).startswith(str(path))


def test_density_selector_trains_and_saves(tmp_path):
    rng = np.random.RandomState(1)
    features = rng.rand(400, len(FEATURE_NAMES))
    targets = np.clip(features[:, 3] - 0.5, 0, None)
    selector = train_selector([(features, targets)], objective="density")
    path = str(tmp_path / "d.json")
    selector.save(path)
    loaded = LearnedSelector.load(path)
    assert loaded.objective == "density"
    scores = loaded.score_features(features)
    assert np.corrcoef(scores, targets)[0, 1] > 0.9


# ----------------------------------------------------------------------------- sampling

def test_the_choice_samples_across_documents_seeded(tmp_path):
    # 50 stories with 5 questions each, in story order: the first 40 records cover 8 stories
    records = []
    for story in range(50):
        for question in range(5):
            records.append({"id": f"{story}-{question}", "document": f"Story {story} text. It goes on.",
                            "query": f"question {question}", "summary": f"Story {story}."})
    path = write_jsonl(str(tmp_path / "train.jsonl"), records)
    config = PrepareConfig(destdir=str(tmp_path / "bin"), encoder_json="E", vocab_bpe="V", dict_path="D",
                           inputs={"train": path})
    sample = _sample_records(path, config, "train", 40)
    stories = {record.id.split("-")[0] for record in sample}
    assert len(sample) == 40 and len(stories) == 40
    assert [r.id for r in sample] == sorted((r.id for r in sample), key=lambda i: tuple(map(int, i.split("-"))))
    assert [r.id for r in _sample_records(path, config, "train", 40)] == [r.id for r in sample]
    assert [r.id for r in _sample_records(path, config, "train", 40, seed=1)] != [r.id for r in sample]
    everything = _sample_records(path, config, "train", 60)
    assert len({r.id.split("-")[0] for r in everything}) == 50  # all stories before any second question


# ----------------------------------------------------------------------------- corpora

def test_make_aclsum_queries_writes_one_record_per_aspect(tmp_path):
    import os
    import subprocess
    import sys
    import zipfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wheel = tmp_path / "aclsum-0.1.2-py3-none-any.whl"
    row = {"id": "P1", "summary": {"challenge": "Hard  problem.", "approach": "A method.", "outcome": "It works."}}
    paper = {"title": "A Title", "pdf_parse": {"body_text": [
        {"text": "We study things.", "section": "Introduction", "sec_num": "1"}]}}
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("train.jsonl", "val.jsonl"):
            archive.writestr(f"aclsum/dataset/{name}", json.dumps(row) + "\n")
        archive.writestr("aclsum/dataset/paper_jsons/P1.json", json.dumps(paper))
    out = tmp_path / "out"
    for extra in ([], ["--queries"]):
        subprocess.run([sys.executable, os.path.join(root, "scripts", "make_aclsum.py"), "--out",
                        str(out / (extra[0][2:] if extra else "plain")), "--wheel", str(wheel), *extra],
                       check=True, cwd=root, capture_output=True)
    plain = [json.loads(line) for line in open(out / "plain" / "valid.jsonl")]
    assert plain[0]["summary"] == "Hard problem.\nA method.\nIt works." and "query" not in plain[0]
    rows = [json.loads(line) for line in open(out / "queries" / "valid.jsonl")]
    assert [r["id"] for r in rows] == ["P1-challenge", "P1-approach", "P1-outcome"]
    assert [r["summary"] for r in rows] == ["Hard problem.", "A method.", "It works."]
    assert rows[1]["query"] == "What approach or method does the paper propose?"
    assert all(r["document"] == "1 Introduction\n\nWe study things." and r["title"] == "A Title" for r in rows)
