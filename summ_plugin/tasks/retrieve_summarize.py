"""``retrieve_summarize``: fairseq's translation task for BART summarization, plus

* raw data directories (``train.jsonl``/``valid.jsonl``) prepared on first use by the same
  retrieval path as ``summ-prepare``, cached by options and input content;
* ``--eval-rouge``: ROUGE-1/2/L/Lsum during validation, aggregated exactly across batches
  and workers, usable as ``--best-checkpoint-metric rougeL``;
* the bart.base / bart.large vocabulary fix when a checkpoint is restored, and the
  extension of its learned positions when the model asks for more (``summ_plugin.positions``);
* optional support weighting (per-sample weights from retrieval coverage).
"""
import logging
import os
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Optional

from fairseq.dataclass import ChoiceEnum
from fairseq.tasks.translation import TranslationConfig, TranslationTask

from ..data.data_bin import DataBinError
from ..data.config import allow_bpe_mismatch_field, prepare_setting_field
from ..generation_settings import check_eval_rouge_args
from ..hydra_compat import give_model_args_the_task_name
from ..numbers import NonFiniteNumberError, find_non_finite
from ..positions import install_position_extension_hook
from ..registry import register_task_once
from ..vocab_fix import install_vocab_fix_hook
from . import ngram_block, positions_check, raw_data, resume, rouge_eval, support_weights

logger = logging.getLogger(__name__)

VOCAB_FIX_CHOICES = ChoiceEnum(["resize", "error"])
# the raw-directory settings are summ-prepare's (PrepareConfig), declared there once
RAW = "when DATA is a raw directory (prepared as summ-prepare does): "


@dataclass
class RetrieveSummarizeConfig(TranslationConfig):
    # BART summarization data-bins name their sides "source" and "target" (fairseq's recipe).
    source_lang: Optional[str] = field(
        default="source", metadata={"help": "source side name in the data-bin", "argparse_alias": "-s"}
    )
    target_lang: Optional[str] = field(
        default="target", metadata={"help": "target side name in the data-bin", "argparse_alias": "-t"}
    )
    # --- raw data directories ------------------------------------------------------------
    retriever: Optional[str] = prepare_setting_field("retriever", help_prefix=RAW)
    train_retriever: Optional[str] = prepare_setting_field("train_retriever", help_prefix=RAW)
    retriever_options: str = prepare_setting_field("retriever_options", help_prefix=RAW, default="{}")
    split_mode: str = prepare_setting_field("split_mode", help_prefix=RAW)
    encoder_json: Optional[str] = field(
        default=None,
        metadata={"help": "GPT-2 BPE encoder.json (raw data and --eval-rouge); default: DATA/encoder.json"},
    )
    vocab_bpe: Optional[str] = field(
        default=None, metadata={"help": "GPT-2 BPE vocab.bpe; default: DATA/vocab.bpe"}
    )
    dict_path: Optional[str] = field(
        default=None, metadata={"help": "dict.txt for raw data; default: DATA/dict.txt"}
    )
    allow_bpe_mismatch: bool = allow_bpe_mismatch_field()
    raw_cache_dir: Optional[str] = field(
        default=None, metadata={"help": "where prepared raw data is cached (default DATA/.summ_cache)"}
    )
    prepare_workers: int = prepare_setting_field("workers", help_prefix=RAW)
    # --- checkpoints -----------------------------------------------------------------------
    vocab_fix: VOCAB_FIX_CHOICES = field(
        default="resize",
        metadata={
            "help": "when a restored checkpoint's embedding rows differ from the dictionary: "
            "'resize' them in memory with a warning (bart.base with a GPT-2 dict) or raise an 'error'"
        },
    )
    # --- ROUGE during validation --------------------------------------------------------------
    eval_rouge: bool = field(default=False, metadata={"help": "generate and score ROUGE during validation"})
    eval_rouge_args: str = field(
        default="{}",
        metadata={"help": "JSON generation args for --eval-rouge, e.g. '{\"beam\": 4, \"lenpen\": 2.0, "
                  "\"max_len_b\": 140, \"min_len\": 55, \"no_repeat_ngram_size\": 3}'"},
    )
    eval_rouge_print_samples: bool = field(
        default=False, metadata={"help": "log a few hypothesis/reference pairs during validation"}
    )
    # --- support weighting -----------------------------------------------------------------------
    support_weighting: bool = field(
        default=False,
        metadata={"help": "weight each training pair by its retrieval coverage (from {split}.meta.jsonl)"},
    )
    support_weighting_power: float = field(
        default=1.0, metadata={"help": "weight = coverage ** power, normalised to mean 1 over the split"}
    )
    support_weighting_floor: float = field(
        default=0.1, metadata={"help": "lowest weight a pair can get (before normalisation)"}
    )


def set_decoder_beam(models, beam: int) -> None:
    """The beam each model's decoder computes its encoder-decoder attention for (see build_generator)."""
    for model in models:
        decoder = getattr(model, "decoder", None)
        if hasattr(decoder, "set_beam_size"):
            decoder.set_beam_size(beam)


def generation_setting_names():
    """The settings fairseq's build_generator can read (its GenerationConfig)."""
    import dataclasses

    from fairseq.dataclass.configs import GenerationConfig

    return [f.name for f in dataclasses.fields(GenerationConfig)]


def refuse_eval_bleu(cfg) -> None:
    """--eval-bleu comes with TranslationConfig, but BLEU on detokenized summaries is not what
    this task measures (and its detokenizer set-up does not fit the GPT-2 BPE): stop rather than
    train with the option silently doing nothing."""
    if getattr(cfg, "eval_bleu", False):
        raise ValueError(
            "--eval-bleu is not supported by --task retrieve_summarize; use --eval-rouge "
            "(ROUGE-1/2/L/Lsum during validation, e.g. --best-checkpoint-metric rougeL)"
        )


# task settings that name files or directories (DATA may list shards joined with ':')
PATH_SETTINGS = ("data", "encoder_json", "vocab_bpe", "dict_path", "raw_cache_dir")


def record_absolute_paths(cfg) -> None:
    """Make the task's paths absolute before training starts: fairseq stores the task settings
    in every checkpoint, and a relative path read later (summ-summarize, summ-export-hf, a
    resumed run) would be resolved against that day's working directory, where it may lead to
    other files."""
    if cfg is None:
        return
    from omegaconf import OmegaConf, open_dict

    for name in PATH_SETTINGS:
        value = getattr(cfg, name, None)
        if isinstance(value, str) and value:
            value = (os.pathsep.join(os.path.abspath(p) if p else p for p in value.split(os.pathsep))
                     if name == "data" else os.path.abspath(value))
            if OmegaConf.is_config(cfg):
                with open_dict(cfg):
                    setattr(cfg, name, value)
            else:
                setattr(cfg, name, value)


def stored_task_config(cfg):
    """The task settings the trainer saves in checkpoints. fairseq's setup_task hands the task a
    merged copy of them (merge_with_parent), whose parent is the whole run's config: its
    ``task`` is the one saved. None when there is no such parent (a plain namespace)."""
    from omegaconf import OmegaConf

    if not OmegaConf.is_config(cfg):
        return None
    parent = cfg._get_parent()
    stored = parent.get("task") if parent is not None and OmegaConf.is_dict(parent) else None
    return stored if OmegaConf.is_config(stored) and stored is not cfg else None


@register_task_once("retrieve_summarize", dataclass=RetrieveSummarizeConfig)
class RetrieveSummarizeTask(TranslationTask):
    cfg: RetrieveSummarizeConfig

    def __init__(self, cfg: RetrieveSummarizeConfig, src_dict, tgt_dict):
        super().__init__(cfg, src_dict, tgt_dict)
        self.bpe = None
        self.sequence_generator = None
        self._warned_batch_multiple = False

    @classmethod
    def setup_task(cls, cfg: RetrieveSummarizeConfig, **kwargs):
        refuse_eval_bleu(cfg)
        if not kwargs.get("from_checkpoint"):
            if cfg.eval_rouge:  # before any data is read; a checkpoint's stored settings are its own
                check_eval_rouge_args(cfg.eval_rouge_args, generation_setting_names())
            # the checkpoint stores these: absolute, so that they never depend on where it is
            # used. A checkpoint's own settings are left as stored: the tools that read an older
            # one's relative paths say how they resolve them (data/bpe_record.py)
            record_absolute_paths(cfg)
            record_absolute_paths(stored_task_config(cfg))
        # A raw directory becomes a cached data-bin before the dictionaries are read.
        cfg.data = raw_data.resolve_data_path(cfg, warn_unused=not kwargs.get("from_checkpoint"))
        positions_check.check_positions_fit_data(cfg.data, cfg.max_source_positions, "task")
        return super().setup_task(cfg, **kwargs)

    @classmethod
    def load_dictionary(cls, filename):
        # fairseq raises a bare Exception ("Incorrect dictionary format ...") or a
        # UnicodeDecodeError without the path for a broken dict.txt; name the file instead.
        try:
            return super().load_dictionary(filename)
        except FileNotFoundError:
            raise
        except Exception as err:
            raise DataBinError(f"{filename}: not a fairseq dictionary ({err}); re-create the data-bin with summ-prepare") from err

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        if self.cfg.support_weighting and split == self.cfg.train_subset:
            data_path = raw_data.split_data_path(self.cfg.data, epoch)
            weights = support_weights.load_support_weights(
                data_path, split, len(self.datasets[split]),
                power=self.cfg.support_weighting_power, floor=self.cfg.support_weighting_floor,
            )
            self.datasets[split] = support_weights.SampleWeightsDataset(self.datasets[split], weights)

    def get_batch_iterator(self, dataset, *args, required_batch_size_multiple=1, **kwargs):
        # fairseq's batch_by_size drops the last batch when its size is not a multiple of
        # --required-batch-size-multiple (default 8): validation ROUGE and fairseq-generate
        # would silently skip up to 7 examples (all of them in a set smaller than 8).
        # Only training batches keep the user's multiple.
        if required_batch_size_multiple > 1 and dataset is not self.datasets.get(self.cfg.train_subset):
            if not self._warned_batch_multiple:
                logger.info(
                    "using required_batch_size_multiple=1 instead of %d outside training, so that "
                    "no evaluation example is dropped", required_batch_size_multiple,
                )
                self._warned_batch_multiple = True
            required_batch_size_multiple = 1
        epoch = kwargs.pop("epoch", 1)
        batch_epoch = resume.batch_order_epoch(self, dataset, epoch, kwargs)
        iterator = super().get_batch_iterator(
            dataset, *args, required_batch_size_multiple=required_batch_size_multiple, epoch=batch_epoch, **kwargs
        )
        return resume.restore_iterator_epoch(iterator, dataset, epoch, batch_epoch)

    def build_generator(self, models, args, *extra, **kwargs):
        generator = super().build_generator(models, args, *extra, **kwargs)
        ngram_block.fix_ngram_blocking(generator)
        # fairseq's SequenceGenerator sets its beam on the decoders for good, and with a beam B > 1
        # every later plain forward pass (training with --eval-rouge, the validation loss) takes the
        # encoder-decoder attention's shortcut of one encoder state per B rows: a batch of a multiple
        # of B sentences attends to the wrong sources silently, any other batch crashes ("shape
        # '[N, -1, B, C]' is invalid"). The beam is on the decoders only while inference_step runs.
        set_decoder_beam(models, 1)
        return generator

    def inference_step(self, generator, models, *args, **kwargs):
        set_decoder_beam(models, getattr(generator, "beam_size", 1))  # what beam search's cache expects
        try:
            return super().inference_step(generator, models, *args, **kwargs)
        finally:
            set_decoder_beam(models, 1)

    def build_model(self, cfg, from_checkpoint=False):
        positions_check.check_positions_fit_data(self.cfg.data, getattr(cfg, "max_source_positions", None), "model")
        positions_check.check_position_tables_fit_memory(cfg)
        model = super().build_model(cfg, from_checkpoint)
        install_vocab_fix_hook(model, self.source_dictionary, strict=self.cfg.vocab_fix == "error")
        # --max-source-positions above a restored checkpoint's: extend its position table
        install_position_extension_hook(model)
        # fairseq-hydra-train + checkpoint.restore_file: BART's upgrade reads model.args.task
        give_model_args_the_task_name(model, "retrieve_summarize")
        if self.cfg.eval_rouge:
            self.bpe = rouge_eval.build_gpt2_bpe(self.cfg)
            from ..data.formats.jsonl import JSONTextError, parse_json

            try:
                gen_args = parse_json(self.cfg.eval_rouge_args)
            except JSONTextError as err:
                raise ValueError(f"--eval-rouge-args is not valid JSON ({err.reason}): "
                                 f"{self.cfg.eval_rouge_args[:200]}") from None
            bad = find_non_finite(gen_args)
            if bad:
                raise NonFiniteNumberError(f"--eval-rouge-args: {bad} is not a finite number")
            self.sequence_generator = self.build_generator([model], Namespace(**gen_args))
        return model

    def valid_step(self, sample, model, criterion):
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        if self.cfg.eval_rouge:
            hyps, refs = rouge_eval.generate_and_decode(self, self.sequence_generator, sample, model)
            if self.cfg.eval_rouge_print_samples:
                for hyp, ref in list(zip(hyps, refs))[:2]:
                    logger.info("example hypothesis: %s", hyp)
                    logger.info("example reference: %s", ref)
            logging_output.update(rouge_eval.rouge_logging_output(hyps, refs))
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        if self.cfg.eval_rouge:
            rouge_eval.reduce_rouge_metrics(logging_outputs)
