"""summarization_cross_entropy against fairseq's label_smoothed_cross_entropy on one batch."""
import math
from argparse import Namespace

import pytest
import torch
from fairseq import metrics
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion
from fairseq.data import Dictionary
from fairseq.models.bart import BARTModel
from fairseq.models.bart.model import bart_base_architecture

import summ_plugin  # noqa: F401
from summ_plugin.criterions.summarization_cross_entropy import SummarizationCrossEntropyCriterion
from summ_plugin.tiny_model import TINY_BART


class _Task:
    def __init__(self, dictionary):
        self.source_dictionary = dictionary
        self.target_dictionary = dictionary


def _tiny_model_and_batch(seed=0):
    torch.manual_seed(seed)
    dictionary = Dictionary()
    for i in range(40):
        dictionary.add_symbol(str(i))
    args = Namespace(**TINY_BART, max_source_positions=64, max_target_positions=64)
    bart_base_architecture(args)
    task = _Task(dictionary)
    model = BARTModel.build_model(args, task)
    bsz, src_len, tgt_len = 3, 9, 6
    src = torch.randint(4, len(dictionary), (bsz, src_len))
    tgt = torch.randint(4, len(dictionary), (bsz, tgt_len))
    tgt[0, -2:] = dictionary.pad()  # uneven lengths: padding must be ignored
    prev = torch.cat([torch.full((bsz, 1), dictionary.eos()), tgt[:, :-1]], dim=1)
    sample = {
        "net_input": {"src_tokens": src, "src_lengths": torch.full((bsz,), src_len), "prev_output_tokens": prev},
        "target": tgt,
        "ntokens": int(tgt.ne(dictionary.pad()).sum()),
        "id": torch.arange(bsz),
    }
    return task, model, sample


def _loss_and_grads(criterion, model, sample):
    model.zero_grad()
    loss, sample_size, logging_output = criterion(model, sample)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]
    return loss.detach(), sample_size, logging_output, grads


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_equals_label_smoothed_cross_entropy(eps):
    task, model, sample = _tiny_model_and_batch()
    ours = SummarizationCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=eps)
    stock = LabelSmoothedCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=eps, report_accuracy=True)
    l1, s1, log1, g1 = _loss_and_grads(ours, model, sample)
    l2, s2, log2, g2 = _loss_and_grads(stock, model, sample)
    assert s1 == s2
    assert torch.allclose(l1, l2, atol=1e-6, rtol=0)
    assert torch.allclose(log1["nll_loss"], log2["nll_loss"], atol=1e-6, rtol=0)
    assert log1["n_correct"] == log2["n_correct"] and log1["total"] == log2["total"]
    assert len(g1) == len(g2) and len(g1) > 0
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)


def test_unit_weights_give_exactly_the_unweighted_loss():
    task, model, sample = _tiny_model_and_batch(seed=1)
    criterion = SummarizationCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=0.1)
    l1, _, log1, g1 = _loss_and_grads(criterion, model, sample)
    weighted = dict(sample, weights=torch.ones(sample["target"].size(0)))
    l2, _, log2, g2 = _loss_and_grads(criterion, model, weighted)
    assert torch.equal(l1, l2)
    assert torch.equal(log1["nll_loss"], log2["nll_loss"])
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, atol=1e-7, rtol=0)


def test_weights_scale_each_samples_tokens():
    task, model, sample = _tiny_model_and_batch(seed=2)
    criterion = SummarizationCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=0.1)
    per_sample = []
    for i in range(3):
        only_i = torch.zeros(3)
        only_i[i] = 1.0
        loss, _, _, _ = _loss_and_grads(criterion, model, dict(sample, weights=only_i))
        per_sample.append(loss)
    weights = torch.tensor([0.5, 2.0, 0.0])
    loss, _, _, _ = _loss_and_grads(criterion, model, dict(sample, weights=weights))
    expected = sum(w * l for w, l in zip(weights, per_sample))
    assert torch.allclose(loss, expected, atol=1e-5)
    full, _, _, _ = _loss_and_grads(criterion, model, sample)
    assert torch.allclose(full, sum(per_sample), atol=1e-5)


def test_weights_ignored_when_disabled():
    task, model, sample = _tiny_model_and_batch(seed=3)
    criterion = SummarizationCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=0.1, use_sample_weights=False)
    l1, _, _, _ = _loss_and_grads(criterion, model, sample)
    l2, _, _, _ = _loss_and_grads(criterion, model, dict(sample, weights=torch.zeros(3)))
    assert torch.equal(l1, l2)


def test_accuracy_is_reported_without_report_accuracy_and_ignores_padding():
    task, model, sample = _tiny_model_and_batch(seed=4)
    # report_accuracy=False is what fairseq passes when --report-accuracy is not given
    criterion = SummarizationCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=0.1, report_accuracy=False)
    _, _, logging_output, _ = _loss_and_grads(criterion, model, sample)
    # 3 targets of 6 tokens, the first with 2 pad tokens: 3 * 6 - 2 = 16 counted tokens
    assert logging_output["total"] == 16
    assert 0 <= logging_output["n_correct"] <= 16


def test_reduce_metrics_logs_fairseqs_names_and_figures():
    # two batches; losses are summed in nats, fairseq logs them per token in bits (base 2)
    logging_outputs = [
        {"loss": 3 * math.log(2), "nll_loss": 2 * math.log(2), "ntokens": 2, "sample_size": 2, "n_correct": 1, "total": 2},
        {"loss": 5 * math.log(2), "nll_loss": 4 * math.log(2), "ntokens": 2, "sample_size": 2, "n_correct": 2, "total": 2},
    ]
    with metrics.aggregate(new_root=True) as aggregated:
        SummarizationCrossEntropyCriterion.reduce_metrics(logging_outputs)
        logged = aggregated.get_smoothed_values()
    # loss (3 + 5) bits / 4 samples = 2.0; nll (2 + 4) bits / 4 tokens = 1.5; ppl 2 ** 1.5 = 2.83;
    # accuracy 3 correct of 4 = 75.0
    assert logged["loss"] == 2.0
    assert logged["nll_loss"] == 1.5
    assert logged["ppl"] == 2.83
    assert logged["accuracy"] == 75.0
    assert SummarizationCrossEntropyCriterion.logging_outputs_can_be_summed()
