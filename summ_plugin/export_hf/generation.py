"""The generation settings an export carries: the ones the checkpoint was validated with
(``--eval-rouge-args``), in transformers' terms."""
import json
from typing import Any, Dict, Tuple

from .checkpoint import FairseqBart
from .vocabulary import VocabularyMap

# build_generator's getattr defaults: what --eval-rouge used for a key its JSON did not give
FAIRSEQ_GENERATION_DEFAULTS = {
    "beam": 5, "lenpen": 1.0, "max_len_a": 0.0, "max_len_b": 200, "min_len": 1, "no_repeat_ngram_size": 0,
}


def validated_generation_settings(bart: FairseqBart) -> Tuple[Dict[str, Any], str]:
    """fairseq generation settings the checkpoint was validated with, and where they came from."""
    raw = bart.task_args.get("eval_rouge_args")
    settings = dict(FAIRSEQ_GENERATION_DEFAULTS)
    source = "fairseq's defaults (the checkpoint has no --eval-rouge-args)"
    if raw and raw != "{}":
        from ..data.formats.jsonl import JSONTextError, parse_json

        try:
            given = parse_json(raw) if isinstance(raw, str) else dict(raw)
        except JSONTextError:
            given = {}
        known = {k: v for k, v in given.items() if k in settings}
        settings.update(known)
        source = f"--eval-rouge-args {json.dumps(given, sort_keys=True)}"
    return settings, source


def build_generation_config(settings: Dict[str, Any], vocab: VocabularyMap, max_target_positions: int):
    """fairseq's SequenceGenerator limits in transformers' terms.

    fairseq: the decoder starts with </s>; at most ``max_len`` tokens then a forced </s>;
    </s> banned for the first ``min_len`` steps; pad never generated. transformers counts the
    start token in max_length / min_length, hence the +2 / +1.
    """
    from transformers import GenerationConfig

    ids = vocab.token_to_id
    eos, pad, bos = (ids[vocab.special_tokens[k]] for k in ("eos_token", "pad_token", "bos_token"))
    max_len = min(int(settings["max_len_b"]), max_target_positions - 1)
    beams = int(settings["beam"])
    # transformers refuses beam-only options on greedy settings; fairseq_export.json keeps them all
    beam_options = {"length_penalty": float(settings["lenpen"]),
                    "early_stopping": True} if beams > 1 else {}  # fairseq stops at beam_size finished
    return GenerationConfig(
        num_beams=beams,
        **beam_options,
        max_length=max_len + 2,
        min_length=int(settings["min_len"]) + 1,
        no_repeat_ngram_size=int(settings["no_repeat_ngram_size"]),
        do_sample=False,
        decoder_start_token_id=eos,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        forced_eos_token_id=eos,
        suppress_tokens=[pad],
    )
