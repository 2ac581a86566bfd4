"""What an export says about itself: ``retrieval.json`` (the retrieval the model was trained
with, and the data-bin's record beside it) and the model card ``README.md``."""
import copy
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from ..data.data_bin import DataBin, RetrieverSetting
from .checkpoint import FairseqBart, architecture, count_layers
from .errors import ExportError
from .vocabulary import VocabularyMap


def copy_retrieval_setup(data_bin: DataBin, destination: str) -> Dict[str, Any]:
    """retrieval.json: what summ_plugin.retrieval needs to pick the same passages at inference
    (the retrievers the data-bin's splits were made with, as summ-summarize reads them); a
    learned retriever's selector file is copied beside it and referred to by a relative path.
    The data-bin's prepare.json is copied beside it as it is."""
    manifest = data_bin.manifest
    valid, train = data_bin.retriever("valid"), data_bin.retriever("train")
    budget = manifest.budget.to_json()
    retrieval: Dict[str, Any] = {
        "retriever": valid.name,
        "retriever_options": dict(valid.options),
        "train_retriever": train.name,
        "train_retriever_options": dict(train.options),
        "split_mode": budget.pop("split_mode"),
        "budget": budget,
        "fields": copy.deepcopy(manifest.fields),
    }
    os.makedirs(destination, exist_ok=True)
    for key in ("retriever_options", "train_retriever_options"):
        selected = retrieval.get(key) or {}
        selector = selected.get("selector") if isinstance(selected, dict) else None
        if selector:
            if not os.path.isfile(selector):
                raise ExportError(f"the retriever's selector file {selector} (from prepare.json) is missing")
            # the data-bin's names (selector.json, train.selector.json): the copy of prepare.json
            # beside them then names them as they are
            name = os.path.basename(selector)
            shutil.copyfile(selector, os.path.join(destination, name))
            selected["selector"] = os.path.join("retrieval", name)
    shutil.copyfile(data_bin.manifest_path, os.path.join(destination, "prepare.json"))
    return retrieval


def _format_metric(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return str(value)


def model_card(bart: FairseqBart, data_bin: DataBin, retrieval: Optional[Dict],
               generation: Dict[str, Any], generation_source: str, vocab: VocabularyMap,
               max_positions: int, cleaning_mismatches: Sequence[str] = ()) -> str:
    """The model card. ``cleaning_mismatches``: probe texts on which the tokenizer's cleaning
    differs from summ-prepare's (export_hf.tokenizer.cleaning_mismatches); then the card does
    not claim equal ids and says which cleaning to apply first."""
    args = bart.model_args
    metric = bart.checkpoint_args.get("best_checkpoint_metric", "loss")
    lines = [
        "---", "library_name: transformers", "pipeline_tag: summarization", "tags: [bart, summarization, fairseq]",
        "---", "",
        "# BART for retrieve-then-summarize (exported from fairseq)", "",
        f"Fine-tuned with summ_plugin (`--task {bart.task_args.get('_name') or bart.task_args.get('task', 'retrieve_summarize')}`) "
        f"from the `{architecture(bart)}` architecture: d_model {bart.state['encoder.embed_tokens.weight'].shape[1]}, "
        f"{count_layers(bart.state, 'encoder')}+{count_layers(bart.state, 'decoder')} layers, "
        f"{args.get('encoder_attention_heads')} heads, {max_positions} positions. "
        f"Exported from `{os.path.basename(bart.path)}` with `summ-export-hf`.", "",
        "## Data", "",
    ]
    if data_bin.manifest:
        splits = data_bin.manifest.splits
        for split in ("train", "valid", "test"):
            if split in splits:
                info = splits[split]
                lines.append(f"- {split}: {info.examples} examples from `{os.path.basename(str(info.input))}`, "
                             f"retriever `{data_bin.retriever(split).name}`, mean source "
                             f"{info.figures.get('mean_source_tokens')} tokens")
    else:
        lines.append(f"- data-bin `{data_bin.root}` (no prepare.json: retrieval set-up unknown)")
    lines += ["", "## Validation", ""]
    best = bart.extra_state.get("best")
    this = bart.extra_state.get("val_loss")
    if best is not None or this is not None:
        lines.append(f"- `{metric}` on valid: this checkpoint {_format_metric(this)}, best of the run {_format_metric(best)} "
                     "(ROUGE figures are F1 x 100, rouge-score with stemming)")
    else:
        lines.append("- no validation figure in the checkpoint")
    lines.append(f"- generation settings ({generation_source}): " + ", ".join(f"{k} {v}" for k, v in generation.items()))
    lines += ["", "## Retrieval: apply it before the model", ""]
    if retrieval:
        train_retriever = retrieval.get("train_retriever") or retrieval["retriever"]
        lines += [
            f"The model reads passages picked by a retriever, in document order, within "
            f"{retrieval['budget'].get('max_source_positions')} source tokens ({retrieval['split_mode']} passages): "
            f"`{train_retriever}` for the training data, `{retrieval['retriever']}` (options "
            f"{json.dumps(retrieval['retriever_options'])}) for valid/test and at inference. `retrieval.json` holds the "
            "set-up (`retrieval/` the original `prepare.json` and any selector file); "
            "`summ_plugin.Summarizer.from_exported(DIR).summarize(text)` applies it, then generates. "
            "A whole long document fed to the tokenizer needs `truncation=True` and then only its "
            "opening is read.", "",
        ]
    else:
        lines += ["No retrieval set-up was found (no prepare.json in the data-bin).", ""]
    beams = generation["beam"]
    lines += [
        "## Use", "",
        "```python",
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
        "tokenizer = AutoTokenizer.from_pretrained(\"PATH/TO/THIS/DIR\")",
        "model = AutoModelForSeq2SeqLM.from_pretrained(\"PATH/TO/THIS/DIR\")  # generation_config.json: validated settings",
        "ids = model.generate(**tokenizer(selected_passages_text, return_tensors=\"pt\"))",
        "print(tokenizer.decode(ids[0], skip_special_tokens=True))",
        "# transformers 4.x also has the summarization pipeline; its own default is 4 beams:",
        f"# pipeline(\"summarization\", model=\"PATH/TO/THIS/DIR\")(text, num_beams={beams})",
        "```", "",
        "## How it matches fairseq", "",
        "- The tokenizer cleans text as summ-prepare does (`summ_plugin.data.text.clean_text`: `\\r` to `\\n`, "
        "control characters removed, NFC, whitespace-free runs longer than 100 characters broken with a space), "
        "encodes `\" \" + text` with GPT-2's byte-level BPE and fairseq's `dict.txt` indices, ends with `</s>` and "
        "adds no `<s>`: " + ("the ids summ-prepare gave the training data." if not cleaning_mismatches else
                             f"**but its cleaning differs from summ-prepare's on {len(cleaning_mismatches)} test "
                             "text(s)**: apply `summ_plugin.data.text.clean_text` to text before the tokenizer to "
                             "get the ids the model was trained on."),
        "- Generation starts the decoder with `</s>`, never generates `<pad>`, forces `</s>` at the length limit; "
        "greedy decoding equals fairseq's token for token. Beam search follows transformers' rules, which can "
        "differ from fairseq's in rare ties and in how finished hypotheses are ranked.",
    ]
    if vocab.alias_ids:
        lines.append(
            f"- {len(vocab.alias_ids)} BPE symbols are not in the training dictionary; fairseq reads them as `<unk>`. "
            f"They have ids {vocab.alias_ids[0]}..{vocab.alias_ids[-1]} here, each an alias of `<unk>` (same embedding, "
            "never generated), so that the BPE splits words exactly as fairseq's does.")
    if generation.get("max_len_a"):
        lines.append("- `max_len_a` (length relative to the source) has no transformers equivalent: max_length uses max_len_b.")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RetrievalSetup:
    """``retrieval.json`` of an export, read: the valid/test retriever (a selector option as an
    absolute path), the split mode and the source budget."""

    retriever: RetrieverSetting
    split_mode: str
    max_source_positions: Optional[int]
    path: str


def read_export_json(path: str):
    """The decoded JSON file of an export (None: there is none); unreadable or not JSON is an
    ExportError naming it."""
    from ..data.formats.jsonl import JSONTextError, load_json_file

    if not os.path.isfile(path):
        return None
    try:
        return load_json_file(path)
    except OSError as err:
        raise ExportError(f"{path}: not a readable JSON file ({err.strerror or err})") from None
    except JSONTextError as err:
        raise ExportError(f"{err.where}: not a readable JSON file ({err.reason})") from None


def read_retrieval_setup(export_dir: str) -> Optional[RetrievalSetup]:
    """The retrieval set-up :func:`copy_retrieval_setup` wrote into ``export_dir`` (None: the
    export has no ``retrieval.json``, its data-bin had no prepare.json). An unreadable file is
    an ExportError naming it and the key."""
    path = os.path.join(export_dir, "retrieval.json")
    obj = read_export_json(path)
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ExportError(f"{path}: expected a JSON object")
    name, options, split_mode = obj.get("retriever"), obj.get("retriever_options", {}), obj.get("split_mode")
    budget = obj.get("budget", {})
    if not isinstance(name, str) or not name:
        raise ExportError(f"{path}: key 'retriever': expected a retriever name, got {name!r}")
    if not isinstance(options, dict):
        raise ExportError(f"{path}: key 'retriever_options': expected an object, got {options!r}")
    if not isinstance(split_mode, str):
        raise ExportError(f"{path}: key 'split_mode': expected a string, got {split_mode!r}")
    positions = budget.get("max_source_positions") if isinstance(budget, dict) else None
    if positions is not None and (isinstance(positions, bool) or not isinstance(positions, int) or positions < 1):
        raise ExportError(f"{path}: key 'budget.max_source_positions': expected a positive integer, got {positions!r}")
    options = dict(options)
    selector = options.get("selector")
    if isinstance(selector, str) and not os.path.isabs(selector):
        # written relative to the export ("retrieval/selector.json"): it moves with the directory
        options["selector"] = os.path.join(os.path.abspath(export_dir), selector)
    return RetrievalSetup(RetrieverSetting(name, options), split_mode, positions, path)
