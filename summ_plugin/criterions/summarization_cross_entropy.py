"""``summarization_cross_entropy``: label-smoothed cross entropy with token accuracy and
optional per-sample weights.

With no ``sample["weights"]`` in the batch the loss is computed by fairseq's own
``label_smoothed_nll_loss`` on the same tensors, so loss, nll_loss and gradients equal
``label_smoothed_cross_entropy`` bit for bit. With weights (the task's support weighting),
each target token's loss is scaled by its sample's weight before the sum; weights of 1 give
exactly the unweighted figures.
"""
import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterionConfig,
    label_smoothed_nll_loss,
)

from ..registry import register_criterion_once


@dataclass
class SummarizationCrossEntropyConfig(LabelSmoothedCrossEntropyCriterionConfig):
    use_sample_weights: bool = field(
        default=True,
        metadata={
            "help": "scale each sample's loss by sample['weights'] when the batch carries them "
            "(the task adds them with --support-weighting); batches without weights are unaffected"
        },
    )


def weighted_label_smoothed_nll_loss(lprobs, target, epsilon, weights, ignore_index):
    """Label-smoothed NLL as fairseq computes it, each token scaled by its sample's weight.

    ``lprobs``: (B, T, V), ``target``: (B, T), ``weights``: (B,). Returns summed loss and nll.
    """
    loss, nll_loss = label_smoothed_nll_loss(
        lprobs.view(-1, lprobs.size(-1)), target.view(-1), epsilon, ignore_index=ignore_index, reduce=False
    )
    token_weights = weights.to(loss.dtype).view(-1, 1).expand(target.size()).reshape(-1, 1)
    return (loss * token_weights).sum(), (nll_loss * token_weights).sum()


def token_accuracy(lprobs, target, padding_idx):
    """Number of correctly predicted non-pad target tokens, and the number of such tokens."""
    mask = target.ne(padding_idx)
    n_correct = torch.sum(lprobs.argmax(-1).masked_select(mask).eq(target.masked_select(mask)))
    return n_correct, torch.sum(mask)


@register_criterion_once("summarization_cross_entropy", dataclass=SummarizationCrossEntropyConfig)
class SummarizationCrossEntropyCriterion(FairseqCriterion):
    def __init__(
        self,
        task,
        sentence_avg,
        label_smoothing,
        ignore_prefix_size=0,
        report_accuracy=False,
        use_sample_weights=True,
    ):
        super().__init__(task)
        self.sentence_avg = sentence_avg
        self.eps = label_smoothing
        self.ignore_prefix_size = ignore_prefix_size
        # Token accuracy is cheap and tells quickly whether fine-tuning learns anything, so it
        # is always reported; --report-accuracy is accepted (stock recipes pass it) and changes
        # nothing. A dataclass default of True would have made fairseq turn the flag into "off".
        self.report_accuracy = True
        self.use_sample_weights = use_sample_weights

    def forward(self, model, sample, reduce=True):
        net_output = model(**sample["net_input"])
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        weights = sample.get("weights") if self.use_sample_weights else None
        if weights is None:
            loss, nll_loss = label_smoothed_nll_loss(
                lprobs.view(-1, lprobs.size(-1)), target.view(-1), self.eps,
                ignore_index=self.padding_idx, reduce=reduce,
            )
        else:
            loss, nll_loss = weighted_label_smoothed_nll_loss(
                lprobs, target, self.eps, weights, ignore_index=self.padding_idx
            )
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["target"].size(0),
            "sample_size": sample_size,
        }
        if self.report_accuracy:
            n_correct, total = token_accuracy(lprobs, target, self.padding_idx)
            logging_output["n_correct"] = utils.item(n_correct.data)
            logging_output["total"] = utils.item(total.data)
        return loss, sample_size, logging_output

    def get_lprobs_and_target(self, model, net_output, sample):
        # Same as label_smoothed_cross_entropy, but keeps (B, T) shapes for per-sample weights.
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        target = model.get_targets(sample, net_output)
        if self.ignore_prefix_size > 0:
            lprobs = lprobs[:, self.ignore_prefix_size :, :].contiguous()
            target = target[:, self.ignore_prefix_size :].contiguous()
        return lprobs, target

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        loss_sum = sum(log.get("loss", 0) for log in logging_outputs)
        nll_loss_sum = sum(log.get("nll_loss", 0) for log in logging_outputs)
        ntokens = sum(log.get("ntokens", 0) for log in logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        # fairseq reports losses in base 2
        metrics.log_scalar("loss", loss_sum / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("nll_loss", nll_loss_sum / ntokens / math.log(2), ntokens, round=3)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["nll_loss"].avg))
        total = utils.item(sum(log.get("total", 0) for log in logging_outputs))
        if total > 0:
            metrics.log_scalar("total", total)
            metrics.log_scalar("n_correct", utils.item(sum(log.get("n_correct", 0) for log in logging_outputs)))
            metrics.log_derived(
                "accuracy",
                lambda meters: round(meters["n_correct"].sum * 100.0 / meters["total"].sum, 3)
                if meters["total"].sum > 0
                else float("nan"),
            )

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        # Every key is a sum, so fairseq may all-reduce them across workers before reduce_metrics.
        return True

