"""The generation settings an export carries: the ones the checkpoint was validated with
(``--eval-rouge-args``), in transformers' terms."""
from typing import Any, Dict, Optional, Tuple

from .checkpoint import FairseqBart
from .vocabulary import VocabularyMap


def validated_generation_settings(bart: FairseqBart) -> Tuple[Dict[str, Any], str]:
    """fairseq generation settings the checkpoint was validated with, and where they came from
    (the rule summ-summarize and Summarizer follow: summ_plugin.generation_settings)."""
    from ..generation_settings import validated_generation_settings as from_eval_rouge_args

    return from_eval_rouge_args(bart.task_args.get("eval_rouge_args"))


def build_generation_config(settings: Dict[str, Any], vocab: VocabularyMap, max_target_positions: int):
    """fairseq's SequenceGenerator limits in transformers' terms.

    fairseq: the decoder starts with </s>; at most ``max_len`` tokens then a forced </s>;
    </s> banned for the first ``min_len`` steps; pad never generated. transformers counts the
    start token in max_length / min_length, hence the +2 / +1.
    """
    from transformers import GenerationConfig

    ids = vocab.token_to_id
    eos, pad, bos = (ids[vocab.special_tokens[k]] for k in ("eos_token", "pad_token", "bos_token"))
    return GenerationConfig(
        **transformers_search_settings(settings, max_target_positions),
        do_sample=False,
        decoder_start_token_id=eos,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        forced_eos_token_id=eos,
        suppress_tokens=[pad],
    )


def transformers_search_settings(settings: Dict[str, Any], max_target_positions: int,
                                 source_length: Optional[int] = None) -> Dict[str, Any]:
    """fairseq's search settings (beam, lenpen, max_len_a/b, min_len, no_repeat_ngram_size) as
    ``generate`` keyword arguments. fairseq's length limit is ``min(int(max_len_a * L +
    max_len_b), max_target_positions - 1)`` with L the batch's padded source length: given
    ``source_length`` (Summarizer, per batch) it is that; without it (generation_config.json,
    one file for every input) ``max_len_a`` cannot be expressed and max_len_b alone is used."""
    length = float(settings.get("max_len_a") or 0) * source_length if source_length is not None else 0.0
    max_len = min(int(length + int(settings["max_len_b"])), max_target_positions - 1)
    beams = int(settings["beam"])
    # transformers refuses beam-only options on greedy settings; fairseq_export.json keeps them all
    beam_options = {"length_penalty": float(settings["lenpen"]),
                    "early_stopping": True} if beams > 1 else {}  # fairseq stops at beam_size finished
    return dict(num_beams=beams, **beam_options, max_length=max_len + 2, min_length=int(settings["min_len"]) + 1,
                no_repeat_ngram_size=int(settings["no_repeat_ngram_size"]))
