"""``--eval-rouge`` for the task: generate, undo the BPE, score, log additive sums.

fairseq sums logging outputs over batches and (all-reduce) over workers, so each batch logs
per-metric sums of F1 and a sample count; the epoch figure is sum / count over all samples,
exact however the validation set is split (never an average of batch averages).
"""
import torch
from fairseq import metrics, utils

from ..data.bpe import decode_ids, load_gpt2_bpe
from ..rouge import COUNT_KEY, ROUGE_TYPES, SUM_KEYS, rouge_from_sums, rouge_sums


def build_gpt2_bpe(cfg):
    """The GPT-2 BPE from the task's files (default: those the data-bin's prepare.json records,
    else copies in the data directory), checked against the data-bin's sha256 record and loaded
    as every summ-* tool loads it (summ_plugin.data.bpe_record, summ_plugin.data.bpe)."""
    from ..data.bpe_record import BPERecordError, resolve_bpe_files
    from ..data.data_bin import DataBin

    data_bin = DataBin.locate(cfg.data)
    try:
        encoder_json, vocab_bpe = resolve_bpe_files(
            data_bin, {"encoder_json": cfg.encoder_json, "vocab_bpe": cfg.vocab_bpe},
            allow_mismatch=getattr(cfg, "allow_bpe_mismatch", False))
    except BPERecordError as err:
        raise BPERecordError(f"--eval-rouge: {err}") from None
    return load_gpt2_bpe(encoder_json, vocab_bpe)


def generate_and_decode(task, generator, sample, model):
    gen_out = task.inference_step(generator, [model], sample, prefix_tokens=None)
    hyps, refs = [], []
    for i in range(len(gen_out)):
        hyps.append(decode_ids(task.target_dictionary, task.bpe, gen_out[i][0]["tokens"]))
        target = utils.strip_pad(sample["target"][i], task.target_dictionary.pad())
        refs.append(decode_ids(task.target_dictionary, task.bpe, target))
    return hyps, refs


# logging-output keys: fairseq sums them over batches and workers, and hides "_" keys from the log
_PREFIX = "_rouge_"


def rouge_logging_output(hyps, refs):
    """One batch's additive ROUGE statistics (summ_plugin.rouge.rouge_sums), as logging-output keys."""
    return {_PREFIX + key: value for key, value in rouge_sums(hyps, refs).items()}


def reduce_rouge_metrics(logging_outputs):
    """Sum the batches' statistics into meters and derive each ROUGE F1 from the running
    totals with summ_plugin.rouge.rouge_from_sums (the same reduction summ-score's sums get)."""
    def sum_logs(key):
        result = sum(log.get(key, 0) for log in logging_outputs)
        return result.cpu().item() if torch.is_tensor(result) else result

    if sum_logs(_PREFIX + COUNT_KEY) <= 0:
        return
    for key in SUM_KEYS:
        metrics.log_scalar(_PREFIX + key, sum_logs(_PREFIX + key))
    for rouge_type in ROUGE_TYPES:
        metrics.log_derived(rouge_type, lambda meters, rouge_type=rouge_type: round(
            rouge_from_sums({key: meters[_PREFIX + key].sum for key in SUM_KEYS})[rouge_type], 4))
