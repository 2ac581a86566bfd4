"""The exported tokenizer: GPT-2's byte-level BPE with fairseq's dictionary indices, encoding
text as summ-prepare does (``" " + text``, ``</s>`` at the end, no ``<s>``)."""
import json
from typing import List, Tuple

from .vocabulary import VocabularyMap


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


def name_tokenizer_class_portably(tokenizer_config_path: str) -> None:
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
