"""Export a fine-tuned fairseq BART checkpoint to a Hugging Face ``transformers`` directory.

The directory loads with ``BartForConditionalGeneration.from_pretrained(DIR)``,
``AutoTokenizer.from_pretrained(DIR)`` and ``pipeline("summarization", model=DIR)``, with no
fairseq installed, and computes what the fairseq model computes:

* weights: fairseq's ``encoder.*`` / ``decoder.*`` tensors under ``model.*``, the shared
  embedding as ``model.shared``, ``decoder.output_projection`` as ``lm_head`` (tied when it is
  the embedding), learned position tables as they are (both keep 2 offset rows; a longer
  table, e.g. extended source positions, sets ``max_position_embeddings``);
* tokenizer (``tokenizer.json``, plus ``vocab.json``/``merges.txt``): the GPT-2 byte-level
  BPE, with each BPE symbol mapped to its **fairseq** index (``dict.txt`` lists GPT-2 ids
  in its own order), encoding text the way the training data was encoded: ``" " + text``
  (summ-prepare's ``ExampleEncoder``), no ``<s>``, ``</s>`` at the end; a literal ``</s>``
  in the text is text, as it is for fairseq's BPE;
* ``generation_config.json``: the settings the model was validated with (``--eval-rouge-args``),
  in transformers' terms (decoder starts with ``</s>``, pad never generated, ``</s>`` forced at
  the length limit, as fairseq's SequenceGenerator does).

BPE symbols that the dictionary lacks (a ``dict.txt`` counted from a corpus, as
``fairseq-preprocess`` makes them): fairseq maps them to ``<unk>``. A ``tokenizers`` BPE
merges by symbol ids, so these symbols cannot all share ``<unk>``'s id without changing how
words are split; each gets its own id after the dictionary's (an *alias* of ``<unk>``): its
embedding row is ``<unk>``'s and its ``final_logits_bias`` is ``-inf``, so the model reads it
as ``<unk>`` and never generates it. Ids equal fairseq's wherever the dictionary knows the
symbol; folding the alias ids to ``<unk>`` gives fairseq's ids everywhere.

``transformers`` and ``safetensors`` are the optional extra ``hf``; they are imported only
inside the functions that need them.
"""
import copy
import json
import logging
import math
import os
import shutil
import tempfile
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch

from .data.config import trained_bpe_field, trained_data_bin_field
from .data.data_bin import DataBin, DataBinError
from .errors import UserError

logger = logging.getLogger(__name__)

HF_EXTRA_HINT = "summ-export-hf needs the optional extra: pip install -e '.[hf]'"
MASK_SYMBOL = "<mask>"
# fairseq's Dictionary specials, in index order (bos, pad, eos, unk)
SPECIAL_SYMBOLS = ("<s>", "<pad>", "</s>", "<unk>")
# build_generator's getattr defaults: what --eval-rouge used for a key its JSON did not give
FAIRSEQ_GENERATION_DEFAULTS = {
    "beam": 5, "lenpen": 1.0, "max_len_a": 0.0, "max_len_b": 200, "min_len": 1, "no_repeat_ngram_size": 0,
}
# fairseq activation names -> transformers ACT2FN names (same function, not an approximation of it)
ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "tanh": "tanh", "linear": "linear",
               "gelu_accurate": "gelu_new", "gelu_fast": "gelu_new"}


class ExportError(UserError):
    """A user error (bad checkpoint, missing dictionary, existing output): one line for the CLI."""


@dataclass
class ExportOptions:
    checkpoint: str = field(metadata={"help": "fairseq checkpoint (checkpoint_best.pt)"})
    out: str = field(metadata={"help": "output directory (must not exist)"})
    data_bin: Optional[str] = trained_data_bin_field()
    encoder_json: Optional[str] = trained_bpe_field("encoder.json")
    vocab_bpe: Optional[str] = trained_bpe_field("vocab.bpe")


@dataclass
class FairseqBart:
    """What an export needs from a fairseq checkpoint, read without building the model."""

    path: str
    state: Dict[str, torch.Tensor]
    model_args: Dict[str, Any]
    task_args: Dict[str, Any]
    checkpoint_args: Dict[str, Any]
    extra_state: Dict[str, Any]


@dataclass
class VocabularyMap:
    """BPE symbol / special / filler -> model row, and which rows are <unk> aliases."""

    token_to_id: Dict[str, int]
    special_tokens: Dict[str, str]  # bos_token -> "<s>", ...
    n_dictionary: int  # len(dict.txt) with specials: rows the fairseq model has for it
    n_model_rows: int  # the checkpoint's embedding rows (n_dictionary, or + <mask>)
    alias_ids: List[int] = field(default_factory=list)  # unknown-to-dict BPE symbols

    @property
    def size(self) -> int:
        return self.n_model_rows + len(self.alias_ids)


@dataclass
class ExportReport:
    out: str
    vocab_size: int
    n_aliases: int
    max_position_embeddings: int
    generation: Dict[str, Any]
    data_bin: Optional[str]


# ----------------------------------------------------------------------------- reading the checkpoint


def _as_dict(value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Namespace):
        return dict(vars(value))
    if isinstance(value, dict):
        return dict(value)
    try:  # an omegaconf DictConfig (fairseq 0.10 saved cfg that way)
        from omegaconf import OmegaConf

        return dict(OmegaConf.to_container(value, resolve=True))
    except Exception:
        return dict(value)


def read_fairseq_checkpoint(path: str) -> FairseqBart:
    """Load with weights_only=True and the fairseq allow-list (never unpickles code)."""
    from .checkpoints import CorruptCheckpointError, UnsafeCheckpointError, load_checkpoint_safely

    if not os.path.isfile(path):
        raise ExportError(f"checkpoint not found: {path}")
    try:
        checkpoint = load_checkpoint_safely(path)
    except (CorruptCheckpointError, UnsafeCheckpointError) as err:
        raise ExportError(str(err)) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ExportError(f"{path}: not a fairseq checkpoint (no 'model' state dict)")
    cfg = _as_dict(checkpoint.get("cfg"))
    legacy_args = _as_dict(checkpoint.get("args"))
    model_args = _as_dict(cfg.get("model")) or legacy_args
    task_args = _as_dict(cfg.get("task")) or legacy_args
    checkpoint_args = _as_dict(cfg.get("checkpoint")) or legacy_args
    if not model_args:
        raise ExportError(f"{path}: the checkpoint holds no model configuration (neither cfg.model nor args)")
    return FairseqBart(path, checkpoint["model"], model_args, task_args, checkpoint_args,
                       _as_dict(checkpoint.get("extra_state")))


def _architecture(bart: FairseqBart) -> str:
    return str(bart.model_args.get("arch") or bart.model_args.get("_name") or "")


def check_is_bart(bart: FairseqBart) -> None:
    """Refuse what a transformers BART cannot compute the same way, naming the reason."""
    arch = _architecture(bart)
    if not arch.startswith("bart"):
        raise ExportError(
            f"{bart.path}: architecture '{arch or 'unknown'}' is not BART (bart_base, bart_large); "
            "only BART checkpoints can be exported to BartForConditionalGeneration")
    args, state = bart.model_args, bart.state
    needed = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
              "encoder.embed_positions.weight", "decoder.embed_positions.weight")
    missing = [key for key in needed if key not in state]
    if missing:
        raise ExportError(f"{bart.path}: not a BART state dict (missing {', '.join(missing)}; "
                          "sinusoidal positions or a non-BART model)")
    for flag, wanted in (("encoder_normalize_before", False), ("decoder_normalize_before", False),
                         ("layernorm_embedding", True), ("encoder_learned_pos", True),
                         ("decoder_learned_pos", True)):
        if flag in args and bool(args[flag]) != wanted:
            raise ExportError(f"{bart.path}: {flag}={args[flag]}: transformers' BART has {flag}={wanted} "
                              "(an mBART-style model is not supported)")
    for flag in ("cross_self_attention", "adaptive_input", "no_cross_attention"):
        if args.get(flag):
            raise ExportError(f"{bart.path}: {flag} is set; transformers' BART has no such option")
    if args.get("adaptive_softmax_cutoff"):
        raise ExportError(f"{bart.path}: adaptive softmax is not supported by transformers' BART")
    if args.get("quant_noise_pq", 0):
        raise ExportError(f"{bart.path}: quant-noise models are not supported")
    encoder_dim = state["encoder.embed_tokens.weight"].shape[1]
    decoder_dim = state["decoder.embed_tokens.weight"].shape[1]
    if encoder_dim != decoder_dim:
        raise ExportError(f"{bart.path}: encoder ({encoder_dim}) and decoder ({decoder_dim}) dimensions differ")
    if not torch.equal(state["encoder.embed_tokens.weight"], state["decoder.embed_tokens.weight"]):
        raise ExportError(
            f"{bart.path}: encoder and decoder embeddings differ (trained without --share-all-embeddings); "
            "transformers' BART shares one embedding table")
    activation = str(args.get("activation_fn", "gelu"))
    if activation not in ACTIVATIONS:
        raise ExportError(f"{bart.path}: activation '{activation}' has no transformers equivalent")


def _count_layers(state: Dict[str, torch.Tensor], side: str) -> int:
    prefix = f"{side}.layers."
    indices = {int(key[len(prefix):].split(".")[0]) for key in state if key.startswith(prefix)}
    return max(indices) + 1 if indices else 0


# ----------------------------------------------------------------------------- data-bin, dictionary, BPE


def find_data_bin(bart: FairseqBart, data_bin: Optional[str]) -> DataBin:
    """``--data-bin``, else the checkpoint's ``task.data`` (a data-bin, or its shards)."""
    data = data_bin or bart.task_args.get("data")
    if not data:
        raise ExportError(f"{bart.path}: the checkpoint does not name its data-bin (task.data); give --data-bin")
    try:
        return DataBin.locate(str(data))
    except DataBinError as err:
        raise ExportError(str(err)) from None


def load_training_dictionary(data_bin: DataBin, bart: FairseqBart):
    """The data-bin's dictionary, checked against the checkpoint's embedding rows."""
    from .data.bpe import BPEFileError, load_dictionary

    paths = [data_bin.dictionary_path(lang) for lang in
             (bart.task_args.get("source_lang") or "source", bart.task_args.get("target_lang") or "target")]
    if not os.path.isfile(paths[0]):
        raise ExportError(
            f"{paths[0]} not found: the dictionary the model was trained with is needed to map its rows to "
            "BPE symbols; give --data-bin, the data-bin (or a directory holding dict.source.txt) it was trained on")
    try:
        dictionaries = [load_dictionary(p) for p in paths if os.path.isfile(p)]
    except BPEFileError as err:
        raise ExportError(str(err)) from None
    if len(dictionaries) == 2 and dictionaries[0].symbols != dictionaries[1].symbols:
        raise ExportError(f"{paths[0]} and {paths[1]} differ; a transformers BART has one vocabulary")
    dictionary = dictionaries[0]
    rows = bart.state["encoder.embed_tokens.weight"].shape[0]
    n = len(dictionary)
    # fairseq's BART tasks append <mask> to the dictionary: one extra row is that, nothing else
    if rows not in (n, n + 1):
        raise ExportError(
            f"{bart.path} has {rows} embedding rows but {paths[0]} has {n} entries: "
            "not the dictionary the model was trained with (give --data-bin)")
    return dictionary


def resolve_bpe_files(options: ExportOptions, bart: FairseqBart, data_bin: DataBin) -> Tuple[str, str]:
    found = []
    for key in ("encoder_json", "vocab_bpe"):
        recorded = getattr(data_bin.manifest, key).path if data_bin.manifest else None
        candidates = [getattr(options, key), bart.task_args.get(key), recorded,
                      os.path.join(data_bin.root, "encoder.json" if key == "encoder_json" else "vocab.bpe")]
        path = next((c for c in candidates if c and os.path.isfile(c)), None)
        if path is None:
            tried = ", ".join(str(c) for c in candidates if c)
            raise ExportError(f"GPT-2 {key.replace('_', '.')} not found (tried {tried}); "
                              f"give --{key.replace('_', '-')}")
        found.append(path)
    return found[0], found[1]


def read_bpe_files(encoder_json: str, vocab_bpe: str) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """encoder.json (symbol -> GPT-2 id) and the merges of vocab.bpe, validated as fairseq reads them."""
    from .data.bpe import BPEFileError, load_gpt2_bpe

    try:
        load_gpt2_bpe(encoder_json, vocab_bpe)  # the same checks (and errors) as summ-prepare's
    except BPEFileError as err:
        raise ExportError(str(err)) from None
    with open(encoder_json, encoding="utf-8") as handle:
        encoder = json.load(handle)
    with open(vocab_bpe, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    # fairseq's get_encoder drops the '#version' line and the empty last one
    merges = [tuple(line.split()) for line in lines[1:-1]]
    return encoder, merges


def build_vocabulary_map(dictionary_symbols: List[str], n_model_rows: int, encoder: Dict[str, int]) -> VocabularyMap:
    """Give every token string the row fairseq would feed the model for it.

    ``dictionary_symbols``: fairseq's ``Dictionary.symbols`` (specials first; GPT-2 ids as
    strings; fillers such as ``madeupword0000``; maybe ``<mask>``).
    """
    symbol_of_gpt2_id = {gpt2_id: symbol for symbol, gpt2_id in encoder.items()}
    bpe_symbols = set(encoder)
    token_to_id: Dict[str, int] = {}
    for index, symbol in enumerate(dictionary_symbols):
        if index < len(SPECIAL_SYMBOLS):
            token = symbol
        elif symbol.isdigit() and int(symbol) in symbol_of_gpt2_id:
            token = symbol_of_gpt2_id[int(symbol)]
        elif symbol in bpe_symbols:
            # a non-id symbol spelled like a BPE symbol is never reached from text in fairseq either
            token = f"<fairseq:{symbol}>"
        else:
            token = symbol
        if token in token_to_id:
            raise ExportError(f"dictionary lists '{symbol}' twice (indices {token_to_id[token]} and {index})")
        token_to_id[token] = index
    n_dictionary = len(dictionary_symbols)
    special_tokens = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token"), dictionary_symbols[:4]))
    if n_model_rows == n_dictionary + 1 and MASK_SYMBOL not in token_to_id:
        token_to_id[MASK_SYMBOL] = n_dictionary
    if MASK_SYMBOL in token_to_id:
        special_tokens["mask_token"] = MASK_SYMBOL
    mapping = VocabularyMap(token_to_id, special_tokens, n_dictionary, n_model_rows)
    next_id = n_model_rows
    for symbol, _ in sorted(encoder.items(), key=lambda kv: kv[1]):
        if symbol not in token_to_id:
            token_to_id[symbol] = next_id
            mapping.alias_ids.append(next_id)
            next_id += 1
    return mapping


# ----------------------------------------------------------------------------- the transformers side


def _hide_unloadable_torchaudio() -> None:
    """fairseq pulls in torchaudio, and the newest one on the registry (2.11) cannot load its
    C extension under torch 2.13 (OSError). transformers imports torchaudio whenever it is
    installed, so every BART import would fail. Where ``import torchaudio`` fails anyway,
    mark it absent (``sys.modules[name] = None``: find_spec then says "not installed");
    a working torchaudio is left alone."""
    import sys

    if "torchaudio" in sys.modules:
        return
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        return
    except OSError as err:
        logger.info("torchaudio cannot be loaded here (%s); transformers will run without it", err)
        for name in [n for n in sys.modules if n.startswith("torchaudio.")]:
            del sys.modules[name]
        sys.modules["torchaudio"] = None
        # transformers caches the answer; if it was imported already, ask it again
        import_utils = sys.modules.get("transformers.utils.import_utils")
        cached = getattr(import_utils, "is_torchaudio_available", None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def require_hf_extra():
    """Import transformers, safetensors and tokenizers, or stop with the one line that says how."""
    _hide_unloadable_torchaudio()
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
        import transformers
    except ImportError:
        raise ExportError(HF_EXTRA_HINT) from None
    return transformers


def build_bart_config(bart: FairseqBart, vocab: VocabularyMap, max_position_embeddings: int):
    from transformers import BartConfig

    args, state = bart.model_args, bart.state
    d_model = state["encoder.embed_tokens.weight"].shape[1]
    tied = "decoder.output_projection.weight" not in state or torch.equal(
        state["decoder.output_projection.weight"], state["decoder.embed_tokens.weight"])
    ids = vocab.token_to_id
    return BartConfig(
        vocab_size=vocab.size,
        max_position_embeddings=max_position_embeddings,
        d_model=d_model,
        encoder_layers=_count_layers(state, "encoder"),
        decoder_layers=_count_layers(state, "decoder"),
        encoder_attention_heads=int(args.get("encoder_attention_heads", 16)),
        decoder_attention_heads=int(args.get("decoder_attention_heads", 16)),
        encoder_ffn_dim=state["encoder.layers.0.fc1.weight"].shape[0],
        decoder_ffn_dim=state["decoder.layers.0.fc1.weight"].shape[0],
        activation_function=ACTIVATIONS[str(args.get("activation_fn", "gelu"))],
        dropout=float(args.get("dropout", 0.1)),
        attention_dropout=float(args.get("attention_dropout", 0.0)),
        activation_dropout=float(args.get("activation_dropout", args.get("relu_dropout", 0.0)) or 0.0),
        # fairseq scales by sqrt(d) unless --no-scale-embedding (the BART architectures set it)
        scale_embedding=not bool(args.get("no_scale_embedding", True)),
        pad_token_id=ids[vocab.special_tokens["pad_token"]],
        bos_token_id=ids[vocab.special_tokens["bos_token"]],
        eos_token_id=ids[vocab.special_tokens["eos_token"]],
        decoder_start_token_id=ids[vocab.special_tokens["eos_token"]],
        forced_eos_token_id=ids[vocab.special_tokens["eos_token"]],
        is_encoder_decoder=True,
        tie_word_embeddings=tied,
    )


def _pad_rows(table: torch.Tensor, rows: int) -> torch.Tensor:
    if table.shape[0] == rows:
        return table
    extra = table.new_zeros((rows - table.shape[0], table.shape[1]))
    return torch.cat([table, extra], dim=0)


def convert_state_dict(bart: FairseqBart, vocab: VocabularyMap) -> Tuple[Dict[str, torch.Tensor], int]:
    """fairseq keys -> BartForConditionalGeneration keys; returns (state, max_position_embeddings)."""
    state = bart.state
    embed = state["encoder.embed_tokens.weight"].float()
    unk_row = embed[vocab.token_to_id[vocab.special_tokens["unk_token"]]]
    aliases = unk_row.unsqueeze(0).expand(len(vocab.alias_ids), -1)
    shared = torch.cat([embed, aliases], dim=0).contiguous()
    position_rows = max(state["encoder.embed_positions.weight"].shape[0], state["decoder.embed_positions.weight"].shape[0])
    converted: Dict[str, torch.Tensor] = {"model.shared.weight": shared}
    for key, tensor in state.items():
        side = key.split(".", 1)[0]
        if side not in ("encoder", "decoder") or key.endswith(".version") or ".embed_tokens." in key \
                or ".output_projection." in key:
            continue
        if key.endswith("embed_positions.weight"):
            # both keep 2 offset rows; a shorter table is padded (its rows are never reached
            # within the limits generation_config and the model card give)
            tensor = _pad_rows(tensor.float(), position_rows)
        converted[f"model.{key}"] = tensor.float().contiguous()
    converted["model.encoder.embed_tokens.weight"] = shared
    converted["model.decoder.embed_tokens.weight"] = shared
    projection = state.get("decoder.output_projection.weight", state["decoder.embed_tokens.weight"]).float()
    converted["lm_head.weight"] = torch.cat([projection, aliases], dim=0).contiguous()
    bias = torch.zeros((1, vocab.size))
    if vocab.alias_ids:  # an alias of <unk> is read as <unk> but never generated
        bias[0, vocab.alias_ids] = -math.inf
    converted["final_logits_bias"] = bias
    return converted, position_rows - 2


def validated_generation_settings(bart: FairseqBart) -> Tuple[Dict[str, Any], str]:
    """fairseq generation settings the checkpoint was validated with, and where they came from."""
    raw = bart.task_args.get("eval_rouge_args")
    settings = dict(FAIRSEQ_GENERATION_DEFAULTS)
    source = "fairseq's defaults (the checkpoint has no --eval-rouge-args)"
    if raw and raw != "{}":
        try:
            given = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except json.JSONDecodeError:
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


def build_tokenizer(vocab: VocabularyMap, merges: List[Tuple[str, str]], model_max_length: int):
    """A tokenizers-backed transformers tokenizer that encodes like summ-prepare + fairseq."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = vocab.special_tokens
    eos = special["eos_token"]
    backend = Tokenizer(models.BPE(vocab=dict(vocab.token_to_id), merges=list(merges), dropout=None,
                                   continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False,
                                   unk_token=special["unk_token"]))
    # summ-prepare encodes " " + text (every passage, query and summary); the byte-level
    # pre-tokenizer's own add_prefix_space would skip text that already starts with a space
    backend.normalizer = normalizers.Prepend(" ")
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    # ...and ROUGE decoding strips it again
    backend.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Strip(" ", 1, 0)])
    # sources and targets end with </s> and start with no <s>; a query comes first, then </s>
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, vocab.token_to_id[eos])])
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special.values()])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        # fairseq's BPE reads a literal "</s>" in a document as the characters it is
        split_special_tokens=True,
        **special,
    )


def _name_tokenizer_class_portably(tokenizer_config_path: str) -> None:
    """transformers 5 writes its own class name (TokenizersBackend), unknown to 4.x; both
    load tokenizer.json unchanged under the name PreTrainedTokenizerFast. Not BartTokenizer:
    that class (RobertaTokenizer in 5.x) rebuilds its pre- and post-processing, adding <s>."""
    with open(tokenizer_config_path, encoding="utf-8") as handle:
        tokenizer_config = json.load(handle)
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    # 4.x's generic class would also return token_type_ids, which BART's generate() refuses
    tokenizer_config["model_input_names"] = ["input_ids", "attention_mask"]
    with open(tokenizer_config_path, "w", encoding="utf-8") as handle:
        json.dump(tokenizer_config, handle, indent=2, ensure_ascii=False)


# ----------------------------------------------------------------------------- retrieval set-up and model card


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
               max_positions: int) -> str:
    args = bart.model_args
    metric = bart.checkpoint_args.get("best_checkpoint_metric", "loss")
    lines = [
        "---", "library_name: transformers", "pipeline_tag: summarization", "tags: [bart, summarization, fairseq]",
        "---", "",
        "# BART for retrieve-then-summarize (exported from fairseq)", "",
        f"Fine-tuned with summ_plugin (`--task {bart.task_args.get('_name') or bart.task_args.get('task', 'retrieve_summarize')}`) "
        f"from the `{_architecture(bart)}` architecture: d_model {bart.state['encoder.embed_tokens.weight'].shape[1]}, "
        f"{_count_layers(bart.state, 'encoder')}+{_count_layers(bart.state, 'decoder')} layers, "
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
            "`summ_plugin.retrieval.select_source` applies it. A whole long document needs "
            "`tokenizer(..., truncation=True)` and then only its opening is read.", "",
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
        "- The tokenizer encodes `\" \" + text` with GPT-2's byte-level BPE and fairseq's `dict.txt` indices, ends "
        "with `</s>` and adds no `<s>`: the ids summ-prepare gave the training data.",
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


# ----------------------------------------------------------------------------- the export


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
    encoder_json, vocab_bpe = resolve_bpe_files(options, bart, data_bin)
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

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(out) + ".tmp-")
    try:
        from transformers import BartForConditionalGeneration

        model = BartForConditionalGeneration(config)
        missing, unexpected = model.load_state_dict(state, strict=False)
        # tied copies may be reported missing; anything else means the mapping is wrong
        missing = [k for k in missing if not k.endswith("embed_tokens.weight") and k != "lm_head.weight"]
        if missing or unexpected:
            raise ExportError(f"{options.checkpoint}: weights do not map onto transformers' BART "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        model.generation_config = build_generation_config(generation, vocab, max_target)
        model.eval()
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer = build_tokenizer(vocab, merges, max_source)
        tokenizer.save_pretrained(tmp)
        _name_tokenizer_class_portably(os.path.join(tmp, "tokenizer_config.json"))
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
        provenance = {
            "checkpoint": os.path.abspath(options.checkpoint),
            "data_bin": data_bin.root,
            "encoder_json": os.path.abspath(encoder_json),
            "vocab_bpe": os.path.abspath(vocab_bpe),
            "dictionary_size": vocab.n_dictionary,
            "model_rows": vocab.n_model_rows,
            "unk_alias_ids": [vocab.alias_ids[0], vocab.alias_ids[-1] + 1] if vocab.alias_ids else [],
            "fairseq_generation": generation,
            "fairseq_generation_source": generation_source,
        }
        with open(os.path.join(tmp, "fairseq_export.json"), "w", encoding="utf-8") as handle:
            json.dump(provenance, handle, indent=2)
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(model_card(bart, data_bin, retrieval, generation, generation_source, vocab,
                                    max_positions))
        if os.path.lexists(out):  # someone else made it meanwhile: still never overwrite
            raise ExportError(f"{options.out} appeared during the export; refusing to overwrite it")
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %s: vocab %d (%d <unk> aliases), %d positions, generation %s", out, vocab.size,
                len(vocab.alias_ids), max_positions, generation)
    return ExportReport(out, vocab.size, len(vocab.alias_ids), max_positions, generation, data_bin.root)
