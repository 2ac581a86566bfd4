"""``Summarizer.from_exported``: a summ-export-hf directory with the retrieval it records.

The export's tokenizer encodes each passage as fairseq's BPE and dictionary did (see
tokenizer.py), so :meth:`ExampleEncoder.from_tokenizer` counts, budgets and selects exactly
as summ-prepare and summ-summarize; ``retrieval.json`` gives the retriever, split mode and
budget; transformers' ``generate`` runs with the exported ``generation_config.json`` (start
with ``</s>``, forced ``</s>`` at the limit, ``<pad>`` never generated), the search settings
of each call (fairseq's terms, converted by :func:`transformers_search_settings`) on top.
Greedy decoding equals fairseq's token for token; beam search follows transformers' rules.
No fairseq import.
"""
import copy
import logging
import os
from typing import Dict, List, Optional

from ..data.data_bin import RetrieverSetting
from ..data.encoder import ExampleEncoder
from ..generation_settings import GenerationOptions, validated_generation_settings
from ..retrieval.budget import DEFAULT_SPLIT_MODE
from .errors import ExportError
from .generation import transformers_search_settings
from .hf_import import require_hf_extra
from .model_card import read_export_json, read_retrieval_setup

logger = logging.getLogger(__name__)

FROM_EXPORTED_HINT = "Summarizer.from_exported needs the optional extra: pip install -e '.[hf]'"


def _read_json(path: str) -> Optional[Dict]:
    obj = read_export_json(path)
    return obj if isinstance(obj, dict) else None


def exported_generation_defaults(export_dir: str, generation_config) -> (Dict, str):
    """The settings the model was validated with, in fairseq's terms: fairseq_export.json's
    ``fairseq_generation`` (what the export converted into generation_config.json); an export
    without it: generation_config.json read back."""
    provenance = _read_json(os.path.join(export_dir, "fairseq_export.json")) or {}
    recorded = provenance.get("fairseq_generation")
    if isinstance(recorded, dict):
        settings, _ = validated_generation_settings(recorded)
        return settings, provenance.get("fairseq_generation_source") or "fairseq_export.json"
    g = generation_config
    return ({"beam": int(g.num_beams or 1), "lenpen": float(g.length_penalty or 1.0), "max_len_a": 0.0,
             "max_len_b": int(g.max_length) - 2, "min_len": max(int(g.min_length or 0) - 1, 0),
             "no_repeat_ngram_size": int(g.no_repeat_ngram_size or 0)}, "generation_config.json")


class TransformersGeneration:
    """transformers' ``generate`` over batches of source ids (right-padded, with a mask)."""

    def __init__(self, model, max_target_positions: int, device: str):
        self.model, self.max_target_positions, self.device = model, max_target_positions, device

    def __call__(self, sources: List[List[int]], options: GenerationOptions) -> List[List[int]]:
        import torch

        config = self.model.generation_config
        length = max(len(s) for s in sources)
        input_ids = torch.full((len(sources), length), config.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sources), length), dtype=torch.long)
        for row, source in enumerate(sources):
            input_ids[row, :len(source)] = torch.tensor(source, dtype=torch.long)
            attention_mask[row, :len(source)] = 1
        generation_config = copy.deepcopy(config)
        # fairseq's limit depends on the batch's source length (max_len_a): set per batch
        search = transformers_search_settings(options.to_dict(), self.max_target_positions, source_length=length)
        if search["num_beams"] == 1:  # beam-only settings of a beam-search export would be refused
            generation_config.length_penalty, generation_config.early_stopping = 1.0, False
        generation_config.update(**search)
        with torch.no_grad():
            output = self.model.generate(input_ids=input_ids.to(self.device),
                                         attention_mask=attention_mask.to(self.device),
                                         generation_config=generation_config)
        return [row.tolist() for row in output.cpu()]


def load_exported(summarizer_class, export_dir: str, *, retriever: Optional[str], retriever_options: Optional[Dict],
                  split_mode: Optional[str], max_source_positions: Optional[int], device: str, fp16: bool):
    from ..summarizer import InferenceSetup, SummarizeError, choose_retriever, choose_source_budget

    if not os.path.isfile(os.path.join(export_dir, "config.json")):
        raise SummarizeError(f"{export_dir}: not a summ-export-hf directory (no config.json)")
    try:
        require_hf_extra()
    except ExportError:
        raise SummarizeError(FROM_EXPORTED_HINT) from None
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(export_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(export_dir).eval()
    if fp16:
        model.half()
    model.to(device)
    try:
        recorded = read_retrieval_setup(export_dir)
    except ExportError as err:
        raise SummarizeError(str(err)) from None
    model_positions = min(int(model.config.max_position_embeddings), int(tokenizer.model_max_length))
    if recorded is None:
        setting, where = RetrieverSetting("lead"), f"{export_dir} has no retrieval.json"
        logger.warning("%s: the retrieval the model was trained with is unknown; using lead (truncation at "
                       "passage boundaries) unless a retriever is given", where)
    else:
        setting, where = recorded.retriever, recorded.path
    name, options = choose_retriever(retriever, retriever_options, setting.name, setting.options, where)
    budget = choose_source_budget(max_source_positions, recorded.max_source_positions if recorded else None,
                                  model_positions, export_dir, where)
    split_mode = split_mode or (recorded.split_mode if recorded else DEFAULT_SPLIT_MODE)
    encoder = ExampleEncoder.from_tokenizer(tokenizer, max_source_positions=budget, split_mode=split_mode)
    defaults, source = exported_generation_defaults(export_dir, model.generation_config)
    provenance = _read_json(os.path.join(export_dir, "fairseq_export.json")) or {}
    max_target = int(provenance.get("max_target_positions") or model.config.max_position_embeddings)
    setup = InferenceSetup(model=export_dir, retriever=name, retriever_options=options, split_mode=split_mode,
                           max_source_positions=budget, generation=GenerationOptions(**defaults),
                           generation_source=source)
    return summarizer_class(encoder, TransformersGeneration(model, max_target, device), setup)
