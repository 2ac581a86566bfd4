"""summ-score's library: read hypotheses and references (text, JSONL, fairseq-generate output),
pair them, score them with summ_plugin.rouge and write the reports. No fairseq import (GPT-2
BPE decoding of generate output goes through summ_plugin.data.bpe, only when asked for).

Inputs (``ScoreConfig``)
  hyps / refs               plain text (one example per line) or JSONL (objects with ``id`` and
                            ``summary``; hypotheses may use ``hypothesis`` instead, never both).
                            Two files with ids are matched by id, two without by position; ids on
                            one side only is an error unless match_by_position.
  fairseq_generate          fairseq-generate output: ``D-<id>`` lines (detokenized; ``H-<id>``
                            when there are no D lines), put back in sample-id order; references
                            from refs (sample id i = i-th example) or refs_from_generate (the
                            ``T-<id>`` lines). With refs, the T- lines must be the start of the
                            references (else the output is of other examples: an error).

Errors in the input (counts or ids that differ, empty files, undecodable lines) raise
:class:`ScoreInputError` naming ``FILE:LINE``.
"""
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

from summ_plugin.atomic import atomic_write_text
from summ_plugin.data.config import allow_bpe_mismatch_field
from summ_plugin.data.formats import iter_jsonl_objects
from summ_plugin.data.records import BadRecordError
from summ_plugin.errors import UserError
from summ_plugin.numbers import seed_int

logger = logging.getLogger("summ_plugin.cli.score")

_GENERATE_LINE = re.compile(r"^([HDT])-(\d+)\t(.*)$")
# fairseq's gpt2 BPE keeps these two symbols as text; everything else is a GPT-2 id
_BPE_SPECIALS = {"<unk>", "<mask>"}


@dataclass
class ScoreConfig:
    """The settings of one summ-score run (its command line is built from these fields)."""

    hyps: Optional[str] = field(default=None, metadata={
        "help": "hypotheses: text (one per line) or JSONL (id, hypothesis|summary)"})
    refs: Optional[str] = field(default=None, metadata={"help": "references: text (one per line) or JSONL (id, summary)"})
    fairseq_generate: Optional[str] = field(default=None, metadata={
        "help": "score fairseq-generate output instead of --hyps", "metavar": "GEN_OUT"})
    refs_from_generate: bool = field(default=False, metadata={
        "help": "take the references from the T- lines of --fairseq-generate"})
    match_by_position: bool = field(default=False, metadata={
        "help": "pair the i-th hypothesis with the i-th reference even when only one side has ids"})
    bpe: Optional[str] = field(default=None, metadata={
        "help": "undo this BPE when the generate output still holds BPE ids", "choices": ["gpt2"]})
    encoder_json: Optional[str] = field(default=None, metadata={
        "help": "GPT-2 encoder.json", "aliases": ["--gpt2-encoder-json"]})
    vocab_bpe: Optional[str] = field(default=None, metadata={"help": "GPT-2 vocab.bpe", "aliases": ["--gpt2-vocab-bpe"]})
    data_bin: Optional[str] = field(default=None, metadata={
        "help": "with --bpe gpt2: the data-bin the model was trained on; the BPE files must be those its "
                "prepare.json records (default for --encoder-json/--vocab-bpe: those files)"})
    allow_bpe_mismatch: bool = allow_bpe_mismatch_field()
    json: Optional[str] = field(default=None, metadata={"help": "also write the figures as JSON to OUT", "metavar": "OUT"})
    per_sample: Optional[str] = field(default=None, metadata={
        "help": "write per-example F1 (JSONL: id, rouge1, ...) to OUT", "metavar": "OUT"})
    workers: int = field(default=1, metadata={"help": "processes for per-example scoring", "metavar": "N"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples (0: no CI)", "metavar": "N"})
    seed: int = field(default=0, metadata={"help": "bootstrap seed", "metavar": "N", "type": seed_int})
    quiet: bool = field(default=False, metadata={"help": "no progress bar or log messages (--log-level WARNING)"})


class ScoreInputError(UserError):
    """A user error in the inputs; the message is the one line shown to the user."""


@dataclass
class Examples:
    """Texts read from one file, in file order; ``ids`` is None for files without ids."""

    path: str
    texts: List  # str, or a list of str (several references)
    ids: Optional[List[str]]
    lines: List[int]  # 1-based line number of each example, for error messages


def _few(items, limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(repr(x) for x in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _read_lines(path: str) -> List[str]:
    """The file's lines (without line ends), decoding each so that errors name the line."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ScoreInputError(f"{path}: cannot read: {e.strerror or e}")
    if not data.strip():
        raise ScoreInputError(f"{path}: empty file")
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the final line end
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise ScoreInputError(f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start})")
    return lines


def _looks_like_jsonl(path: str, lines: List[str]) -> bool:
    if path.endswith((".jsonl", ".json")):
        return True
    first = next((line for line in lines if line.strip()), "")
    return first.lstrip().startswith("{")


def _summary_text(value, location: str, key: str, several: bool) -> Union[str, List[str]]:
    # references: a list of strings is several references (scored against the best, as
    # rouge-score's score_multi); hypotheses: a list is one summary stored sentence by sentence
    if isinstance(value, list) and value and all(isinstance(s, str) for s in value):
        return list(value) if several else "\n".join(value)
    if not isinstance(value, str):
        raise ScoreInputError(f"{location}: field '{key}' must be a string or a non-empty list of strings")
    return value


def read_examples(path: str, text_keys: Tuple[str, ...], several: bool = False) -> Examples:
    """Read plain text (one example per line) or JSONL (``id`` + first present of ``text_keys``).
    ``several``: a JSON list of strings is several references (else sentences of one text)."""
    lines = _read_lines(path)
    if not _looks_like_jsonl(path, lines):
        return Examples(path, lines, None, list(range(1, len(lines) + 1)))
    texts, ids, numbers, seen, without_id = [], [], [], {}, []
    for location, obj in iter_jsonl_objects(path):  # blank lines are skipped
        if isinstance(obj, BadRecordError):
            raise ScoreInputError(str(obj))
        number = int(location.rpartition(":")[2])  # location is FILE:LINE
        if not isinstance(obj, dict):
            raise ScoreInputError(f"{location}: expected a JSON object, got {type(obj).__name__}")
        present = [k for k in text_keys if k in obj]
        if len(present) > 1:
            # which one is the text is a guess; a wrong guess scores the wrong field silently
            raise ScoreInputError(f"{location}: has both " + " and ".join(f"'{k}'" for k in present) + "; keep one")
        key = present[0] if present else None
        if key is None:
            raise ScoreInputError(f"{location}: missing field " + " or ".join(f"'{k}'" for k in text_keys))
        if "id" in obj:
            if isinstance(obj["id"], bool) or not isinstance(obj["id"], (str, int)):
                raise ScoreInputError(f"{location}: field 'id' must be a string or an integer")
            example_id = str(obj["id"])
            if example_id in seen:
                raise ScoreInputError(f"{location}: duplicate id {example_id!r} (first at line {seen[example_id]})")
            seen[example_id] = number
            ids.append(example_id)
        else:
            without_id.append(number)
        texts.append(_summary_text(obj[key], location, key, several))
        numbers.append(number)
    if ids and without_id:
        raise ScoreInputError(f"{path}:{without_id[0]}: missing field 'id' (other records have one)")
    return Examples(path, texts, ids or None, numbers)


def pair_examples(hyps: Examples, refs: Examples, by_position: bool = False) -> Tuple[List[str], List[str], List[str]]:
    """Hypothesis and reference texts in reference order, and the ids (or line numbers).

    Both sides with ids: matched by id. Neither: by position. Only one side: refused unless
    ``by_position`` (the user says the order is the same)."""
    if hyps.ids is not None and refs.ids is not None:
        by_id = dict(zip(hyps.ids, hyps.texts))
        missing = [i for i in refs.ids if i not in by_id]
        extra = sorted(set(hyps.ids) - set(refs.ids))
        if missing:
            raise ScoreInputError(f"{hyps.path}: no hypothesis for {len(missing)} reference id(s): {_few(missing)}")
        if extra:
            raise ScoreInputError(f"{hyps.path}: {len(extra)} id(s) not in {refs.path}: {_few(extra)}")
        return [by_id[i] for i in refs.ids], list(refs.texts), list(refs.ids)
    if (hyps.ids is None) != (refs.ids is None) and not by_position:
        with_ids, without = (hyps, refs) if hyps.ids is not None else (refs, hyps)
        raise ScoreInputError(
            f"{with_ids.path} has ids but {without.path} has none, so the pairs cannot be checked: give "
            f"{without.path} as JSONL with the same ids, or pass --match-by-position to pair line i with line i"
        )
    if len(hyps.texts) != len(refs.texts):
        raise ScoreInputError(
            f"{hyps.path} has {len(hyps.texts)} examples but {refs.path} has {len(refs.texts)}"
        )
    ids = refs.ids or hyps.ids or [str(n) for n in refs.lines]
    return list(hyps.texts), list(refs.texts), ids


@dataclass
class GenerateOutput:
    hypotheses: Dict[int, str]  # sample id -> best hypothesis (D, else H)
    targets: Dict[int, str]  # sample id -> T- line
    lines: Dict[int, int]  # sample id -> line of its hypothesis
    source: str  # "D" or "H"
    target_lines: Optional[Dict[int, int]] = None  # sample id -> line of its T- line


def read_fairseq_generate(path: str) -> GenerateOutput:
    """Parse fairseq-generate output; the first (best) hypothesis per sample id wins."""
    found = {"H": {}, "D": {}, "T": {}}
    where = {"H": {}, "D": {}, "T": {}}
    for number, line in enumerate(_read_lines(path), start=1):
        match = _GENERATE_LINE.match(line)
        if not match:
            continue  # S-, P-, log lines, the BLEU line ...
        kind, sample_id, rest = match.group(1), int(match.group(2)), match.group(3)
        if kind == "T":
            text = rest
        else:
            score, _, text = rest.partition("\t")
            try:
                float(score)
            except ValueError:
                raise ScoreInputError(f"{path}:{number}: expected '{kind}-<id>\\t<score>\\t<text>', got score {score!r}")
        if sample_id not in found[kind]:  # with --nbest > 1, later ones are worse
            found[kind][sample_id] = text.strip()
            where[kind][sample_id] = number
    source = "D" if found["D"] else "H"
    if not found[source]:
        raise ScoreInputError(f"{path}: no 'D-<id>' or 'H-<id>' lines: is this fairseq-generate output?")
    return GenerateOutput(found[source], found["T"], where[source], source, where["T"])


def _is_bpe_ids(text: str) -> bool:
    tokens = text.split()
    return bool(tokens) and all(t.isdigit() or t in _BPE_SPECIALS for t in tokens)


class Gpt2Decoder:
    """Undo fairseq's ``gpt2`` BPE in generate output (BPE ids as text) with the user's
    encoder.json/vocab.bpe, through the project's one GPT-2 BPE (summ_plugin.data.bpe)."""

    def __init__(self, encoder_json: Optional[str], vocab_bpe: Optional[str], data_bin: Optional[str] = None,
                 allow_mismatch: bool = False):
        from summ_plugin.data.bpe import BPEFileError, load_gpt2_bpe

        if data_bin:
            # the files the data-bin was prepared with (its sha256 record), by default and as a check
            from summ_plugin.data.bpe_record import resolve_bpe_files
            from summ_plugin.data.data_bin import DataBin

            if not os.path.isdir(data_bin.split(os.pathsep)[0]):
                raise ScoreInputError(f"--data-bin {data_bin}: no such directory")
            encoder_json, vocab_bpe = resolve_bpe_files(
                DataBin.locate(data_bin), {"encoder_json": encoder_json, "vocab_bpe": vocab_bpe},
                allow_mismatch=allow_mismatch)
        for option, path in (("--encoder-json", encoder_json), ("--vocab-bpe", vocab_bpe)):
            if not path:
                raise ScoreInputError(f"--bpe gpt2 needs {option}")
            if not os.path.isfile(path):
                raise ScoreInputError(f"{path}: no such file ({option})")
        try:
            self.bpe = load_gpt2_bpe(encoder_json, vocab_bpe)
        except BPEFileError as err:
            raise ScoreInputError(str(err)) from None

    def decode(self, text: str) -> str:
        try:
            return self.bpe.decode(text.split()).strip()
        except KeyError as e:
            raise ScoreInputError(f"BPE id {e.args[0]} is not in the encoder.json given") from None


def generate_pairs(args: "ScoreConfig") -> Tuple[List[str], List[str], List[str]]:
    gen = read_fairseq_generate(args.fairseq_generate)
    decoder = Gpt2Decoder(args.encoder_json, args.vocab_bpe, args.data_bin,
                          args.allow_bpe_mismatch) if args.bpe == "gpt2" else None
    sample_ids = sorted(gen.hypotheses)
    if args.refs_from_generate:
        missing = [i for i in sample_ids if i not in gen.targets]
        if missing:
            raise ScoreInputError(f"{args.fairseq_generate}: no 'T-<id>' line for sample id(s) {_few(missing)}")
        refs = [gen.targets[i] for i in sample_ids]
        ref_source = f"{args.fairseq_generate} (T- lines)"
    else:
        ref_examples = read_examples(args.refs, ("summary", "reference"), several=True)
        n = len(ref_examples.texts)
        missing = [i for i in range(n) if i not in gen.hypotheses]
        extra = [i for i in sample_ids if i >= n]
        if extra:
            raise ScoreInputError(
                f"{args.fairseq_generate}:{gen.lines[extra[0]]}: sample id(s) {_few(extra)} beyond the "
                f"{n} examples of {args.refs}"
            )
        if missing:
            raise ScoreInputError(
                f"{args.fairseq_generate}: no hypothesis for {len(missing)} of the {n} examples in "
                f"{args.refs}, sample id(s) {_few(missing)}"
            )
        refs = list(ref_examples.texts)
        ref_source = args.refs
        if gen.targets:
            check_targets_match_references(gen, sample_ids, refs, args, decoder)
    hyps = [gen.hypotheses[i] for i in sample_ids]

    def undo_bpe(texts, what):
        if not any(_is_bpe_ids(t) for t in texts):
            return texts
        if decoder is None:
            raise ScoreInputError(
                f"{what}: texts look like GPT-2 BPE ids (e.g. {next(t for t in texts if _is_bpe_ids(t))[:40]!r}); "
                "pass --bpe gpt2 --encoder-json ENCODER_JSON --vocab-bpe VOCAB_BPE"
            )
        return [decoder.decode(t) if _is_bpe_ids(t) else t for t in texts]

    hyps = undo_bpe(hyps, f"{args.fairseq_generate} ({gen.source}- lines)")
    if args.refs_from_generate:
        refs = undo_bpe(refs, ref_source)
    logger.info(
        "scoring %d hypotheses from the %s- lines of %s (sample-id order) against %s",
        len(hyps), gen.source, args.fairseq_generate, ref_source,
    )
    return hyps, refs, [str(i) for i in sample_ids]


def _comparable_words(text: str) -> List[str]:
    """Lower-case alphanumeric words, as rouge-score sees them: tolerant of detokenization,
    sentence newlines and <unk>, strict about which example it is."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w != "unk"]


# words compared per example: the start of a target identifies its example; targets longer
# than --max-target-positions were truncated by summ-prepare, so only a prefix can match
_COMPARED_WORDS = 12


def target_matches_reference(target: str, reference: str) -> bool:
    t_words, r_words = _comparable_words(target), _comparable_words(reference)
    n = min(_COMPARED_WORDS, len(t_words), len(r_words))
    if n == 0:
        return not t_words and not r_words
    return t_words[:n] == r_words[:n]


def check_targets_match_references(gen: "GenerateOutput", sample_ids: List[int], refs: List[str], args: "ScoreConfig",
                                   decoder) -> None:
    """Stop when the T- lines of the generate output are not the references given: the
    output then belongs to another split or file (e.g. test output against valid refs)."""
    mismatched = []
    for sample_id in sample_ids:
        target = gen.targets.get(sample_id)
        if target is None:
            continue
        if _is_bpe_ids(target):
            if decoder is None:
                raise ScoreInputError(
                    f"{args.fairseq_generate}: its T- lines are BPE ids; pass --bpe gpt2 --encoder-json ... "
                    "--vocab-bpe ... so that they can be checked against --refs"
                )
            target = decoder.decode(target)
        reference = refs[sample_id]
        # several references: summ-prepare's target is the first
        if not target_matches_reference(target, reference if isinstance(reference, str) else reference[0]):
            mismatched.append(sample_id)
    if mismatched:
        first = mismatched[0]
        raise ScoreInputError(
            f"{args.fairseq_generate}: the T- (target) lines of {len(mismatched)} of {len(sample_ids)} samples differ "
            f"from {args.refs} (first: sample {first}, T- line {gen.target_lines.get(first, '?')}, vs reference "
            f"{first + 1}): this output was generated from other examples than these references"
        )


def validate_config(args: "ScoreConfig") -> None:
    if args.fairseq_generate:
        if args.hyps:
            raise ScoreInputError("give either --hyps or --fairseq-generate, not both")
        if bool(args.refs) == bool(args.refs_from_generate):
            raise ScoreInputError("with --fairseq-generate give exactly one of --refs or --refs-from-generate")
    else:
        if not (args.hyps and args.refs):
            raise ScoreInputError("give --hyps and --refs (or --fairseq-generate GEN_OUT)")
        if args.refs_from_generate or args.bpe:
            raise ScoreInputError("--refs-from-generate and --bpe only apply to --fairseq-generate")
    if args.workers < 1:
        raise ScoreInputError("--workers must be at least 1")
    if args.bootstrap < 0:
        raise ScoreInputError("--bootstrap must be 0 or more")
    if args.bootstrap > MAX_BOOTSTRAP:
        # 12 means per resample are kept: 10**14 resamples asked for 8.5 PiB (a MemoryError traceback)
        raise ScoreInputError(f"--bootstrap {args.bootstrap} is more than {MAX_BOOTSTRAP} resamples "
                              "(1000 gives the usual 95% interval)")


# the most bootstrap resamples summ-score takes (100 times the default; memory and time grow with it)
MAX_BOOTSTRAP = 100_000


def score_files(args: "ScoreConfig") -> Dict:
    """Score the inputs ``args`` names; write ``--json`` / ``--per-sample`` when asked; return
    the report (what ``--json`` holds). The table for people: :func:`format_table`."""
    from importlib.metadata import version

    from summ_plugin import rouge

    validate_config(args)
    if args.fairseq_generate:
        hyps, refs, ids = generate_pairs(args)
    else:
        hyps, refs, ids = pair_examples(
            read_examples(args.hyps, ("hypothesis", "summary")), read_examples(args.refs, ("summary", "reference"), several=True),
            by_position=args.match_by_position,
        )
    if not hyps:
        raise ScoreInputError("nothing to score: no examples")
    empty_refs = [i for i, r in zip(ids, refs) if not any(text.strip() for text in ([r] if isinstance(r, str) else r))]
    if empty_refs:
        logger.warning("%d empty reference(s) score 0: %s", len(empty_refs), _few(empty_refs))
    diversity = output_diversity(hyps)
    if diversity.collapsed:
        logger.warning("%s", diversity.warning(args.fairseq_generate or args.hyps))
    samples = rouge.score_samples(hyps, refs, workers=args.workers, progress=not args.quiet)
    result = rouge.score_corpus(hyps, refs, bootstrap=args.bootstrap, seed=args.seed, samples=samples)
    report = {
        "n": len(hyps),
        "scores": result,
        "outputs": diversity.to_json(),
        "units": "percent; mean over examples of rouge-score's per-example figure",
        "bootstrap": {"resamples": args.bootstrap, "seed": args.seed, "confidence": 0.95, "method": "percentile"},
        "scorer": {
            "package": "rouge-score",
            "version": version("rouge-score"),
            "use_stemmer": True,
            # the figures are rouge-score's; the tokenizer and arithmetic that compute them are
            # the project's (equal, tested), so the stems are those of this nltk
            "computed_by": "summ_plugin.rouge_tokens + summ_plugin.rouge_overlap",
            "stemmer": f"nltk {version('nltk')} PorterStemmer",
            "rougeLsum_sentences": "summ_plugin.retrieval.split_sentences (newlines and '<n>' kept)",
        },
        "hyps": args.fairseq_generate or args.hyps,
        "refs": args.refs or f"{args.fairseq_generate} (T- lines)",
    }
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        logger.info("wrote %s", args.json)
    if args.per_sample:
        f_index = rouge.STATISTICS.index("fmeasure")
        rows = [
            json.dumps({"id": i, **{t: 100.0 * float(samples[k, j, f_index]) for j, t in enumerate(rouge.ROUGE_TYPES)}})
            for k, i in enumerate(ids)
        ]
        atomic_write_text(args.per_sample, "\n".join(rows) + "\n")
        logger.info("wrote %s", args.per_sample)
    return report


# A model that reads its input rarely writes one summary for two documents: with half or fewer
# distinct outputs, most are copies (a collapsed or undertrained model, one that ignores its
# input), and ROUGE then measures how much the references share, not the model.
MIN_DISTINCT_RATIO = 0.5
MIN_OUTPUTS_CHECKED = 4  # fewer than this says nothing


@dataclass
class OutputDiversity:
    """How many of the hypotheses differ (compared lower-cased, whitespace collapsed)."""

    n: int
    distinct: int
    most_common: str
    most_common_count: int

    @property
    def ratio(self) -> float:
        """The distinct-output ratio: distinct hypotheses / hypotheses (1.0: all differ)."""
        return self.distinct / self.n if self.n else 1.0

    @property
    def collapsed(self) -> bool:
        return self.n >= MIN_OUTPUTS_CHECKED and self.ratio <= MIN_DISTINCT_RATIO

    def warning(self, source: str) -> str:
        shown = self.most_common if len(self.most_common) <= 80 else self.most_common[:77] + "..."
        return (f"{source}: only {self.distinct} distinct of {self.n} hypotheses (distinct-output ratio "
                f"{self.ratio:.2f}; the most common, {self.most_common_count} times: {shown!r}): the model writes "
                "(nearly) the same summary whatever the input, so these scores say little about it; check the "
                "training (too few updates, a learning rate too high or too low, a source the model cannot read)")

    def to_json(self) -> Dict:
        return {"n": self.n, "distinct": self.distinct, "distinct_ratio": round(self.ratio, 4),
                "most_common_count": self.most_common_count, "collapsed": self.collapsed}


def output_diversity(hyps: List[str]) -> OutputDiversity:
    from collections import Counter

    counts = Counter(" ".join(h.lower().split()) for h in hyps)
    text, count = counts.most_common(1)[0] if counts else ("", 0)
    return OutputDiversity(len(hyps), len(counts), text, count)


def format_table(result: Dict, n: int, bootstrap: int) -> str:
    from summ_plugin.rouge import ROUGE_TYPES

    ci = f"F1 95% CI ({bootstrap} resamples)" if bootstrap else "F1 95% CI (off)"
    rows = [f"{'metric':<10} {'P':>6} {'R':>6} {'F1':>6}   {ci}"]
    for rouge_type in ROUGE_TYPES:
        r = result[rouge_type]
        f1 = r["fmeasure"]
        rows.append(
            f"{rouge_type:<10} {r['precision']['mean']:6.2f} {r['recall']['mean']:6.2f} {f1['mean']:6.2f}"
            f"   [{f1['low']:.2f}, {f1['high']:.2f}]"
        )
    rows.append(f"({n} pairs; rouge-score with Porter stemming; rougeLsum over one sentence per line)")
    return "\n".join(rows)
