"""Generation settings in fairseq's terms, and the ones a model was validated with. No fairseq import.

One home for what summ-summarize, ``Summarizer`` (both paths) and summ-export-hf generate with
when the user gives no setting: the checkpoint's ``--eval-rouge-args`` (what ``--eval-rouge``
decoded the valid set with, so what the best checkpoint was chosen by), each key it lacks
taking fairseq's ``build_generator`` default (what validation used for it). A checkpoint
trained without ``--eval-rouge-args`` was never validated by generation: it gets
:data:`UNVALIDATED_DEFAULTS` (fairseq-generate's, with the beam of fairseq's BART
summarization example).
"""
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Optional, Tuple

from summ_plugin.numbers import loads_finite_json

# build_generator's getattr defaults: what --eval-rouge used for a key its JSON did not give
FAIRSEQ_GENERATION_DEFAULTS = {
    "beam": 5, "lenpen": 1.0, "max_len_a": 0.0, "max_len_b": 200, "min_len": 1, "no_repeat_ngram_size": 0,
}
# no --eval-rouge-args: fairseq-generate's defaults except the beam, 4 as in fairseq's BART
# summarization example (fairseq-generate's own default is 5)
UNVALIDATED_DEFAULTS = dict(FAIRSEQ_GENERATION_DEFAULTS, beam=4)


@dataclass
class GenerationOptions:
    """fairseq's generation options. None: the setting the model was validated with
    (:func:`validated_generation_settings`)."""

    beam: Optional[int] = field(default=None, metadata={
        "help": "beam size (default: the model's validated setting, see --eval-rouge-args; else 4)", "metavar": "N"})
    lenpen: Optional[float] = field(default=None, metadata={
        "help": "length penalty: < 1.0 favours shorter, > 1.0 longer summaries (default: validated, else 1.0)"})
    max_len_a: Optional[float] = field(default=None, metadata={
        "help": "generate at most max_len_a * source length + max_len_b tokens (default: validated, else 0)"})
    max_len_b: Optional[int] = field(default=None, metadata={
        "help": "generate at most max_len_a * source length + max_len_b tokens (default: validated, else 200)",
        "metavar": "N"})
    min_len: Optional[int] = field(default=None, metadata={
        "help": "generate at least this many tokens (default: validated, else 1)", "metavar": "N"})
    no_repeat_ngram_size: Optional[int] = field(default=None, metadata={
        "help": "never repeat an n-gram of this size (0: allowed; default: validated, else 0)", "metavar": "N"})

    def resolved(self, defaults: Dict[str, Any]) -> "GenerationOptions":
        """These options with every None taken from ``defaults`` (fairseq's keys)."""
        return GenerationOptions(**{f.name: defaults[f.name] if getattr(self, f.name) is None else getattr(self, f.name)
                                    for f in fields(self)})

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def validated_generation_settings(eval_rouge_args: Any) -> Tuple[Dict[str, Any], str]:
    """fairseq generation settings a checkpoint was validated with (its task's
    ``eval_rouge_args``: a JSON string or a dict), and where they came from."""
    if eval_rouge_args and eval_rouge_args != "{}":
        try:
            # NaN / Infinity: not settings anyone validated with (and not JSON): the defaults then
            given = loads_finite_json(eval_rouge_args) if isinstance(eval_rouge_args, str) else dict(eval_rouge_args)
        except (json.JSONDecodeError, TypeError, ValueError):
            given = None
        if isinstance(given, dict):
            settings = dict(FAIRSEQ_GENERATION_DEFAULTS)
            settings.update({k: v for k, v in given.items() if k in settings})
            return settings, f"--eval-rouge-args {json.dumps(given, sort_keys=True)}"
    return dict(UNVALIDATED_DEFAULTS), ("fairseq-generate's defaults with beam 4 (the checkpoint has no "
                                        "--eval-rouge-args)")


def check_eval_rouge_args(text: str, known_keys) -> Dict[str, Any]:
    """``--eval-rouge-args`` as the generation settings it gives, refused (ValueError naming the
    key) when it is not a JSON object, names a key fairseq's generator does not have (``known_keys``:
    fairseq's GenerationConfig fields; build_generator reads options with getattr defaults, so a
    typo such as ``"lenpn"`` was silently ignored), or gives a setting no beam search can use:
    a NaN or infinite number (every hypothesis scores NaN), a beam below 1, negative lengths."""
    import difflib
    import math

    try:
        given = json.loads(text)
    except ValueError as err:  # JSONDecodeError, or an integer past Python's digit limit
        raise ValueError(f"--eval-rouge-args is not valid JSON ({getattr(err, 'msg', err)}): {text[:200]}") from None
    if not isinstance(given, dict):
        raise ValueError(f"--eval-rouge-args must be a JSON object of generation settings, got "
                         f"{type(given).__name__}: {text[:200]}")
    known = sorted(k for k in known_keys if not k.startswith("_"))
    for key, value in given.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise ValueError(f"--eval-rouge-args: {key!r} is not a fairseq generation setting"
                             + (f" (did you mean {close[0]!r}?)" if close else ""))
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"--eval-rouge-args: {key} must be a finite number, got {value}")
        if key in FAIRSEQ_GENERATION_DEFAULTS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"--eval-rouge-args: {key} must be a number, got {json.dumps(value)}")
    if given.get("beam", 1) < 1:
        raise ValueError(f"--eval-rouge-args: beam must be at least 1, got {given['beam']}")
    for key in ("max_len_a", "max_len_b", "min_len", "no_repeat_ngram_size"):
        if given.get(key, 0) < 0:
            raise ValueError(f"--eval-rouge-args: {key} must not be negative, got {given[key]}")
    return given
