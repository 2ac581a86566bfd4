"""summ_plugin.rouge: figures equal rouge-score's own; exact aggregation; bootstrap CIs."""
import math

import numpy as np
import pytest
from rouge_score import rouge_scorer

import summ_plugin.retrieval
from summ_plugin import rouge

# fixed pairs: multi-sentence, numbers, abbreviations, inflections, non-Latin, empty hypothesis
PAIRS = [
    ("Police killed the gunman.", "The gunman killed the policeman."),
    ("The U.S. economy grew 3.5 percent in the third quarter. Analysts had expected less.",
     "U.S. GDP grew by 3.5% in Q3, beating analysts' expectations."),
    ("A well-known chef opened a new cafe in Paris. It serves crepes.",
     "The well known chef's new cafe in Paris serves crepes. It opened on Monday."),
    ("Storms hit the coast on Tuesday. Thousands lost power. Schools were closed.",
     "Thousands of homes lost power after storms hit the coast.\nSchools closed on Tuesday."),
    ("Running runners ran; the runs were run by those who run.", "The runner runs and ran a running race."),
    ("Der Bundestag hat das Gesetz verabschiedet.", "The Bundestag passed the law."),
    ("", "Nothing was generated for this one."),
    ("Dr. Smith said the trial would start soon. <n> Patients are waiting.",
     "The trial, led by Dr. Smith, starts soon. Patients wait."),
]


def direct_scores(hyp, ref):
    """rouge-score used directly, as a paper's evaluation script would."""
    scorer = rouge_scorer.RougeScorer(list(rouge.ROUGE_TYPES), use_stemmer=True)
    scores = scorer.score(rouge.prepare_for_lsum(ref), rouge.prepare_for_lsum(hyp))
    return {t: (scores[t].precision, scores[t].recall, scores[t].fmeasure) for t in rouge.ROUGE_TYPES}


def test_one_pair_by_hand_under_rouge_scores_names():
    scores = rouge.score_pair("storms hit", "storms passed")
    # one shared unigram ("storms") of 2 on each side: P = R = F = 1/2; no shared bigram: 0;
    # the longest common subsequence is "storms": 1/2; one sentence, so Lsum = L
    assert scores == {
        "rouge1": (0.5, 0.5, 0.5),
        "rouge2": (0.0, 0.0, 0.0),
        "rougeL": (0.5, 0.5, 0.5),
        "rougeLsum": (0.5, 0.5, 0.5),
    }


@pytest.mark.parametrize("hyp,ref", PAIRS)
def test_score_pair_equals_rouge_score_exactly(hyp, ref):
    assert rouge.score_pair(hyp, ref) == direct_scores(hyp, ref)


@pytest.mark.parametrize("hyp,ref", PAIRS)
def test_sentence_preparation_changes_only_lsum(hyp, ref):
    # rouge-score ignores newlines for rouge1/2/L: splitting sentences must not move them
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    raw = scorer.score(ref.replace("<n>", " "), hyp.replace("<n>", " "))
    ours = rouge.score_pair(hyp, ref)
    for t in ("rouge1", "rouge2", "rougeL"):
        assert ours[t] == (raw[t].precision, raw[t].recall, raw[t].fmeasure)


def test_hand_computed_figures():
    scores = rouge.score_pair("the cat sat on the mat", "the cat is on the mat")
    # unigrams: the, cat, on, the, mat match (5 of 6 each side)
    assert scores["rouge1"] == pytest.approx((5 / 6, 5 / 6, 5 / 6))
    # bigrams: "the cat", "on the", "the mat" (3 of 5 each side)
    assert scores["rouge2"] == pytest.approx((3 / 5, 3 / 5, 3 / 5))
    # LCS "the cat on the mat" = 5
    assert scores["rougeL"] == pytest.approx((5 / 6, 5 / 6, 5 / 6))


def test_stemming_is_on():
    assert rouge.score_pair("runners running", "runner runs")["rouge1"][2] > 0.99
    # rouge-score stems only tokens longer than 3 characters: "ran" stays "ran"
    assert rouge.score_pair("ran", "run")["rouge1"][2] == 0.0


def test_lsum_is_summary_level_lcs():
    hyp = "Schools were closed. Storms hit the coast on Tuesday."
    ref = "Storms hit the coast on Tuesday. Schools were closed."
    scores = rouge.score_pair(hyp, ref)
    # sentence order swapped: one LCS over the whole text loses a sentence, the union LCS does not
    assert scores["rougeLsum"][2] == pytest.approx(1.0)
    assert scores["rougeL"][2] < 0.75


def test_prepare_for_lsum_keeps_newlines_and_markers():
    text = "First line here\nDr. Smith paid $3.5 million. He left!  <n> Marker sentence\n\n  \nLast."
    lines = rouge.prepare_for_lsum(text).split("\n")
    assert lines == ["First line here", "Dr. Smith paid $3.5 million.", "He left!", "Marker sentence", "Last."]
    assert rouge.prepare_for_lsum("") == ""


def test_prepare_for_lsum_uses_the_projects_splitter(monkeypatch):
    # one sentence splitter in the project: swapping retrieval's must change ours
    monkeypatch.setattr(summ_plugin.retrieval, "split_sentences", lambda text: text.split("|"))
    assert rouge.prepare_for_lsum("a b. c|d e\nf") == "a b. c\nd e\nf"


def test_rouge_sums_are_exact_over_uneven_batches():
    hyps = [h for h, _ in PAIRS]
    refs = [r for _, r in PAIRS]
    whole = rouge.rouge_sums(hyps, refs)
    assert set(whole) == set(rouge.SUM_KEYS) and whole["count"] == len(PAIRS)
    total = {k: 0 for k in rouge.SUM_KEYS}
    bounds = [0, 1, 4, 7, 8]  # batches of 1, 3, 3, 1
    batch_means = []
    for lo, hi in zip(bounds, bounds[1:]):
        part = rouge.rouge_sums(hyps[lo:hi], refs[lo:hi])
        total = rouge.add_sums(total, part)
        batch_means.append(rouge.rouge_from_sums(part)["rouge1"])
    for key in rouge.SUM_KEYS:
        assert total[key] == pytest.approx(whole[key], abs=1e-12)
    epoch = rouge.rouge_from_sums(total)
    direct = [direct_scores(h, r) for h, r in PAIRS]
    for t in rouge.ROUGE_TYPES:
        assert epoch[t] == pytest.approx(100 * sum(d[t][2] for d in direct) / len(direct), abs=1e-9)
    # the trap this guards against: a mean of batch means is a different (wrong) number here
    assert abs(sum(batch_means) / len(batch_means) - epoch["rouge1"]) > 1.0
    recall = rouge.rouge_from_sums(total, statistic="recall")
    assert recall["rouge2"] == pytest.approx(100 * sum(d["rouge2"][1] for d in direct) / len(direct))


def test_rouge_from_sums_errors():
    with pytest.raises(ValueError, match="count is 0"):
        rouge.rouge_from_sums({k: 0 for k in rouge.SUM_KEYS})
    with pytest.raises(KeyError):
        rouge.rouge_from_sums({"count": 3})
    with pytest.raises(ValueError, match="statistic"):
        rouge.rouge_from_sums(rouge.rouge_sums(["a"], ["a"]), statistic="f1")


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        rouge.rouge_sums(["a", "b"], ["a"])


def test_score_corpus_means_and_ci():
    hyps = [h for h, _ in PAIRS]
    refs = [r for _, r in PAIRS]
    result = rouge.score_corpus(hyps, refs, bootstrap=500, seed=1)
    direct = [direct_scores(h, r) for h, r in PAIRS]
    for t in rouge.ROUGE_TYPES:
        for k, stat in enumerate(rouge.STATISTICS):
            figure = result[t][stat]
            assert figure["mean"] == pytest.approx(100 * np.mean([d[t][k] for d in direct]), abs=1e-9)
            assert figure["low"] <= figure["mean"] <= figure["high"]
            assert figure["low"] < figure["high"]  # the pairs differ, so the interval is not a point
    assert rouge.score_corpus(hyps, refs, bootstrap=500, seed=1) == result  # deterministic
    assert rouge.score_corpus(hyps, refs, bootstrap=500, seed=2) != result
    no_ci = rouge.score_corpus(hyps, refs, bootstrap=0)
    assert no_ci["rouge2"]["fmeasure"]["low"] == no_ci["rouge2"]["fmeasure"]["high"] == no_ci["rouge2"]["fmeasure"]["mean"]
    with pytest.raises(ValueError, match="nothing to score"):
        rouge.score_corpus([], [])


def test_bootstrap_ci_matches_theory():
    rng = np.random.default_rng(0)
    values = np.stack([rng.normal(0.4, 0.1, 400), rng.uniform(0, 1, 400)], axis=1)
    low, high = rouge.bootstrap_ci(values, n_resamples=2000, seed=0, max_elements=50_000)  # several blocks
    expected_half_width = 1.96 * values.std(axis=0) / math.sqrt(len(values))
    np.testing.assert_allclose((high - low) / 2, expected_half_width, rtol=0.15)
    np.testing.assert_allclose((high + low) / 2, values.mean(axis=0), atol=expected_half_width.max() / 4)
    constant = np.full((50, 1), 0.3)
    assert rouge.bootstrap_ci(constant, n_resamples=100)[0][0] == pytest.approx(0.3)


def test_parallel_scoring_equals_serial_in_order(monkeypatch):
    monkeypatch.setattr(rouge, "MIN_PAIRS_PER_WORKER", 10)
    rng = np.random.default_rng(3)
    words = "storm coast power school vote bill senate market price rose fell team won lost".split()

    def text():
        return ". ".join(" ".join(rng.choice(words, size=rng.integers(3, 8))) for _ in range(rng.integers(1, 4)))

    hyps = [text() for _ in range(60)]
    refs = [text() for _ in range(60)]
    serial = rouge.score_samples(hyps, refs, workers=1)
    parallel = rouge.score_samples(hyps, refs, workers=2, chunk_size=7)
    assert serial.shape == (60, 4, 3)
    np.testing.assert_array_equal(parallel, serial)
    assert len({tuple(row) for row in serial[:, 0, :]}) > 10  # rows differ, so order matters


def test_bootstrap_ci_is_the_percentile_of_plainly_resampled_means():
    # the textbook computation: draw all resamples' indices at once, average the rows they pick
    values = np.random.default_rng(4).random((37, 3))
    idx = np.random.default_rng(9).integers(0, 37, size=(300, 37))
    means = values[idx].mean(axis=1)
    expected = np.quantile(means, 0.025, axis=0), np.quantile(means, 0.975, axis=0)
    low, high = rouge.bootstrap_ci(values, n_resamples=300, seed=9, max_elements=37 * 7)  # blocks of 7 and a rest
    np.testing.assert_allclose(low, expected[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, expected[1], rtol=0, atol=1e-12)


def test_eval_rouge_reduces_uneven_batches_to_the_corpus_figures():
    """--eval-rouge's own path: per-batch logging outputs, fairseq's metrics aggregation, the
    derived ROUGE: the corpus mean of per-example F1, not a mean of batch means."""
    from fairseq import metrics

    from summ_plugin.tasks.rouge_eval import reduce_rouge_metrics, rouge_logging_output

    hyps = [h for h, _ in PAIRS]
    refs = [r for _, r in PAIRS]
    bounds = [0, 1, 4, 7, 8]  # batches of 1, 3, 3, 1, each reduced as the trainer does after a step
    with metrics.aggregate(new_root=True) as aggregator:
        for lo, hi in zip(bounds, bounds[1:]):
            reduce_rouge_metrics([rouge_logging_output(hyps[lo:hi], refs[lo:hi])])
        reduce_rouge_metrics([{}])  # a batch without generation (logs nothing) changes nothing
        smoothed = aggregator.get_smoothed_values()
    direct = [direct_scores(h, r) for h, r in PAIRS]
    for t in rouge.ROUGE_TYPES:
        assert smoothed[t] == pytest.approx(100 * sum(d[t][2] for d in direct) / len(direct), abs=1e-4)
    # two workers' logging outputs of one step, summed by fairseq before the reduction: the same
    with metrics.aggregate(new_root=True) as aggregator:
        reduce_rouge_metrics([rouge_logging_output(hyps[:5], refs[:5]), rouge_logging_output(hyps[5:], refs[5:])])
        assert aggregator.get_smoothed_values()["rougeL"] == pytest.approx(smoothed["rougeL"], abs=1e-9)
