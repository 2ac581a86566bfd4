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

The modules, in the order an export uses them: ``checkpoint.py`` (read the fairseq checkpoint
without building the model, refuse what is not a BART), ``vocabulary.py`` (the data-bin's
dictionary and the BPE files -> the vocabulary map), ``weights.py`` (BartConfig and the
state dict), ``tokenizer.py``, ``generation.py`` (the validated generation settings),
``model_card.py`` (``retrieval.json`` and ``README.md``), ``export.py`` (the driver: a
``publish_directory`` renamed into place). ``hf_import.py`` imports the optional extra.
"""
from .errors import ExportError
from .export import ExportOptions, ExportReport, export_to_hf
from .hf_import import require_hf_extra

__all__ = ["ExportError", "ExportOptions", "ExportReport", "export_to_hf", "require_hf_extra"]
