"""The export driver: checkpoint -> transformers directory, published with a rename."""
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ..atomic import publish_directory
from ..checkpoint_contents import state_dict_mismatch
from ..data.config import allow_bpe_mismatch_field, trained_bpe_field, trained_data_bin_field
from .checkpoint import check_is_bart, read_fairseq_checkpoint
from .errors import ExportError
from .generation import build_generation_config, validated_generation_settings
from .hf_import import require_hf_extra
from .model_card import copy_retrieval_setup, model_card
from .tokenizer import CLEANING_PROBES, build_tokenizer, cleaning_mismatches, name_tokenizer_class_portably
from .vocabulary import build_vocabulary_map, find_data_bin, load_training_dictionary, read_bpe_files, resolve_bpe_files
from .weights import build_bart_config, convert_state_dict

logger = logging.getLogger(__name__)


@dataclass
class ExportOptions:
    checkpoint: str = field(metadata={"help": "fairseq checkpoint (checkpoint_best.pt)"})
    out: str = field(metadata={"help": "output directory (must not exist)"})
    data_bin: Optional[str] = trained_data_bin_field()
    encoder_json: Optional[str] = trained_bpe_field("encoder.json")
    vocab_bpe: Optional[str] = trained_bpe_field("vocab.bpe")
    allow_bpe_mismatch: bool = allow_bpe_mismatch_field()


@dataclass
class ExportReport:
    out: str
    vocab_size: int
    n_aliases: int
    max_position_embeddings: int
    generation: Dict[str, Any]
    data_bin: Optional[str]


def export_to_hf(options: ExportOptions) -> ExportReport:
    """Write the transformers directory ``options.out`` (atomically: temp dir, then rename)."""
    out = os.path.abspath(options.out)
    if os.path.lexists(out):
        raise ExportError(f"{options.out} exists; refusing to overwrite it (remove it or choose another --out)")
    require_hf_extra()
    bart = read_fairseq_checkpoint(options.checkpoint)
    check_is_bart(bart)
    data_bin = find_data_bin(bart, options.data_bin)
    dictionary = load_training_dictionary(data_bin, bart)
    encoder_json, vocab_bpe = resolve_bpe_files(
        {"encoder_json": options.encoder_json, "vocab_bpe": options.vocab_bpe}, bart, data_bin,
        allow_mismatch=options.allow_bpe_mismatch)
    encoder, merges = read_bpe_files(encoder_json, vocab_bpe)
    vocab = build_vocabulary_map(list(dictionary.symbols), bart.state["encoder.embed_tokens.weight"].shape[0], encoder)
    if vocab.alias_ids:
        logger.warning("%d of %d BPE symbols are not in the dictionary (fairseq reads them as <unk>); "
                       "they become aliases of <unk> with ids %d..%d", len(vocab.alias_ids), len(encoder),
                       vocab.alias_ids[0], vocab.alias_ids[-1])

    state, max_positions = convert_state_dict(bart, vocab)
    config = build_bart_config(bart, vocab, max_positions)
    max_target = min(int(bart.model_args.get("max_target_positions", max_positions)), max_positions)
    generation, generation_source = validated_generation_settings(bart)
    max_source = min(int(bart.model_args.get("max_source_positions", max_positions)), max_positions)

    # built in OUT.tmp-PID and renamed into place; a killed export's is removed by the next one
    with publish_directory(out) as tmp:
        write_export(tmp, options, bart, data_bin, vocab, merges, (encoder_json, vocab_bpe), config, state,
                     generation, generation_source, max_source, max_target, max_positions)
    logger.info("wrote %s: vocab %d (%d <unk> aliases), %d positions, generation %s", out, vocab.size,
                len(vocab.alias_ids), max_positions, generation)
    return ExportReport(out, vocab.size, len(vocab.alias_ids), max_positions, generation, data_bin.root)


def write_export(tmp: str, options: ExportOptions, bart, data_bin, vocab, merges, bpe_files, config, state,
                 generation: Dict[str, Any], generation_source: str, max_source: int, max_target: int,
                 max_positions: int) -> None:
    """The export's files in ``tmp``: weights and config, tokenizer, retrieval set-up,
    provenance and model card."""
    from transformers import BartForConditionalGeneration

    model = BartForConditionalGeneration(config)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not fit the configuration's sizes
        detail = state_dict_mismatch(str(err))
        if detail is None:
            raise
        raise ExportError(f"{options.checkpoint}: the checkpoint's weights do not fit the model its "
                          f"configuration describes: {detail}") from None
    # tied copies may be reported missing; anything else means the mapping is wrong
    missing = [k for k in missing if not k.endswith("embed_tokens.weight") and k != "lm_head.weight"]
    if missing or unexpected:
        first = (missing or unexpected)[0]
        raise ExportError(f"{options.checkpoint}: weights do not map onto transformers' BART: "
                          f"{len(missing)} parameter(s) missing, {len(unexpected)} unexpected (first {first})")
    model.generation_config = build_generation_config(generation, vocab, max_target)
    model.eval()
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer = build_tokenizer(vocab, merges, max_source)
    cleaning_differs = cleaning_mismatches(tokenizer.backend_tokenizer)
    if cleaning_differs:
        logger.warning("the exported tokenizer cleans %d of %d probe texts differently from summ-prepare "
                       "(first: %r); the model card says to apply clean_text first", len(cleaning_differs),
                       len(CLEANING_PROBES), cleaning_differs[0][:60])
    tokenizer.save_pretrained(tmp)
    name_tokenizer_class_portably(os.path.join(tmp, "tokenizer_config.json"))
    # vocab.json / merges.txt: the same vocabulary in GPT-2's two-file form, for other readers
    with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as handle:
        json.dump(vocab.token_to_id, handle, ensure_ascii=False)
    with open(os.path.join(tmp, "merges.txt"), "w", encoding="utf-8") as handle:
        handle.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    retrieval = None
    if data_bin.manifest:
        retrieval = copy_retrieval_setup(data_bin, os.path.join(tmp, "retrieval"))
        with open(os.path.join(tmp, "retrieval.json"), "w", encoding="utf-8") as handle:
            json.dump(retrieval, handle, indent=2)
    encoder_json, vocab_bpe = bpe_files
    provenance = {
        "checkpoint": os.path.abspath(options.checkpoint),
        "data_bin": data_bin.root,
        "encoder_json": os.path.abspath(encoder_json),
        "vocab_bpe": os.path.abspath(vocab_bpe),
        "dictionary_size": vocab.n_dictionary,
        "model_rows": vocab.n_model_rows,
        "unk_alias_ids": [vocab.alias_ids[0], vocab.alias_ids[-1] + 1] if vocab.alias_ids else [],
        "fairseq_generation": generation,
        # fairseq caps a summary at max_target_positions - 1 tokens (Summarizer.from_exported does too)
        "max_target_positions": max_target,
        "fairseq_generation_source": generation_source,
        # whether the tokenizer's cleaning equals summ-prepare's on the probe texts
        "tokenizer_cleaning_equal": not cleaning_differs,
    }
    with open(os.path.join(tmp, "fairseq_export.json"), "w", encoding="utf-8") as handle:
        json.dump(provenance, handle, indent=2)
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as handle:
        handle.write(model_card(bart, data_bin, retrieval, generation, generation_source, vocab, max_positions,
                                cleaning_differs))
