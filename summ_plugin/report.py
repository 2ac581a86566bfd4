"""Training reports from fairseq's json log: loss and ROUGE plots, and a Markdown summary.

No fairseq import. fairseq-train with ``--log-format json`` writes, through python logging
(``TIME | INFO | TAG | {json}``; fairseq-hydra-train: ``[TIME][TAG][INFO] - {json}``):

* ``train_inner`` lines every ``--log-interval`` updates: ``{"epoch", "update", "loss", ...,
  "num_updates", ...}`` with unprefixed keys;
* ``train`` lines at the end of an epoch and ``<valid subset>`` lines (``valid``) after each
  validation, their keys prefixed by the tag: ``valid_loss``, ``valid_rougeL``,
  ``valid_num_updates``, ``valid_best_rougeL`` (the best so far by
  ``--best-checkpoint-metric``);
* ``fairseq.checkpoint_utils`` lines ``Saved checkpoint PATH (epoch E @ U updates, score S)``.

Values are strings formatted with ``{:g}`` (fairseq's ``format_stat``); they are read as floats.
"""
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from summ_plugin.atomic import atomic_output, atomic_write_text
from summ_plugin.data.data_bin import DataBinError, PrepareManifest, read_manifest
from summ_plugin.data.formats.jsonl import JSONTextError, parse_json
from summ_plugin.errors import UserError
from summ_plugin.rouge import ROUGE_TYPES

logger = logging.getLogger(__name__)

_FAIRSEQ_LINE = re.compile(r"^\S+ \S+ \| (?P<level>\w+) \| (?P<tag>[^|]+?) \| (?P<msg>.*)$")
_HYDRA_LINE = re.compile(r"^\[[^\]]*\]\[(?P<tag>[^\]]+)\]\[(?P<level>\w+)\] - (?P<msg>.*)$")
_SAVED = re.compile(
    # counts of at most 18 digits: a longer one is no count (and past 4300 int() refuses it)
    r"Saved checkpoint (?P<path>\S+) \(epoch (?P<epoch>\d{1,18}) @ (?P<updates>\d{1,18}) updates, "
    r"score (?P<score>[^)]+)\)"
)
# metrics for which lower is better; every other metric (ROUGE, BLEU, accuracy) is maximized
LOWER_IS_BETTER = ("loss", "nll_loss", "ppl")


class LogFormatError(UserError, ValueError):
    """The log cannot be used; the message names the file (and line)."""


@dataclass
class TrainingLog:
    path: str
    train_inner: List[Dict[str, float]] = field(default_factory=list)  # unprefixed keys
    train: List[Dict[str, float]] = field(default_factory=list)  # "train_" stripped
    valid: Dict[str, List[Dict[str, float]]] = field(default_factory=dict)  # subset -> "subset_" stripped
    checkpoints: List[Dict] = field(default_factory=list)  # path, epoch, updates, score


def _number(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# counters the report turns into integers (update numbers, epochs); NaN or inf there is no count
_COUNTERS = ("epoch", "update", "num_updates")


def _numeric_stats(stats: Dict, prefix: str) -> Dict[str, float]:
    out = {}
    for key, value in stats.items():
        if prefix and key.startswith(prefix):
            key = key[len(prefix):]
        number = _number(value)
        if number is not None and (key not in _COUNTERS or math.isfinite(number)):
            out[key] = number
    return out


def parse_log(path: str) -> TrainingLog:
    """Read a fairseq-train / fairseq-hydra-train log written with ``--log-format json``."""
    log = TrainingLog(path=path)
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError as e:
        raise LogFormatError(f"{path}: cannot read: {e.strerror or e}")
    json_lines = 0
    with f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            saved = _SAVED.search(line)
            if saved:
                log.checkpoints.append({
                    "path": saved.group("path"),
                    "epoch": int(saved.group("epoch")),
                    "updates": int(saved.group("updates")),
                    "score": _number(saved.group("score")),
                })
                continue
            match = _FAIRSEQ_LINE.match(line) or _HYDRA_LINE.match(line)
            if not match or not match.group("msg").startswith("{"):
                continue
            tag = match.group("tag").strip()
            try:
                stats = parse_json(match.group("msg"))
            except JSONTextError as e:
                # other loggers print python dicts (the config); a stats line cut short by a
                # killed run is worth a warning, not a failed report
                if tag == "train_inner" or tag == "train" or tag.startswith("valid"):
                    logger.warning("%s:%d: skipping a %s line that is not valid json (%s)", path, number, tag, e.reason)
                continue
            if not isinstance(stats, dict):
                continue
            json_lines += 1
            if tag == "train_inner":
                log.train_inner.append(_numeric_stats(stats, ""))
            elif tag == "train":
                log.train.append(_numeric_stats(stats, "train_"))
            elif any(k.startswith(tag + "_") for k in stats):
                log.valid.setdefault(tag, []).append(_numeric_stats(stats, tag + "_"))
    if json_lines == 0:
        raise LogFormatError(
            f"{path}: no json stats lines (was the run started with --log-format json?)"
        )
    return log


def is_lower_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def choose_metric(records: List[Dict[str, float]], requested: Optional[str]) -> str:
    """The requested metric, else rougeL when the run logged ROUGE, else loss."""
    available = sorted({k for r in records for k in r})
    if requested:
        if not any(requested in r for r in records):
            raise LogFormatError(f"metric {requested!r} is not in the validation lines; they have {available}")
        return requested
    for candidate in ("rougeL", "loss"):
        if any(candidate in r for r in records):
            logger.info("best checkpoint chosen by valid %s (%s)", candidate,
                        "the run logged ROUGE" if candidate == "rougeL" else "the run logged no ROUGE")
            return candidate
    raise LogFormatError(f"the validation lines have neither rougeL nor loss; they have {available}")


def best_record(records: List[Dict[str, float]], metric: str) -> Dict[str, float]:
    """The validation record with the best ``metric``; the latest one on ties, as fairseq's
    ``is_better`` (``>=`` / ``<=``) overwrites ``checkpoint_best.pt`` on ties."""
    # NaN compares false with everything, and an infinite score (a diverged or corrupt line) is no best
    scored = [r for r in records if metric in r and math.isfinite(r[metric])]
    if not scored:
        raise LogFormatError(f"no validation line has {metric!r}")
    sign = 1.0 if is_lower_better(metric) else -1.0
    best = scored[0]
    for record in scored[1:]:
        if sign * record[metric] <= sign * best[metric]:
            best = record
    return best


def checkpoint_for(log: TrainingLog, record: Dict[str, float]) -> Optional[str]:
    """The checkpoint file saved right after this validation (same epoch and update count)."""
    updates = record.get("num_updates")
    for saved in log.checkpoints:
        if updates is not None and saved["updates"] == int(updates) and saved["epoch"] == int(record.get("epoch", saved["epoch"])):
            return saved["path"]
    return None


def _series(records: List[Dict[str, float]], key: str) -> Tuple[List[float], List[float]]:
    xs, ys = [], []
    for r in records:
        if key in r and "num_updates" in r:
            xs.append(r["num_updates"])
            ys.append(r[key])
    return xs, ys


def plot_losses(log: TrainingLog, subset: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for records, label, style in (
        (log.train_inner, "train (every --log-interval)", {"alpha": 0.6}),
        (log.train, "train (epoch mean)", {"marker": "o", "linestyle": "--"}),
        (log.valid.get(subset, []), f"{subset}", {"marker": "s"}),
    ):
        xs, ys = _series(records, "loss")
        if xs:
            ax.plot(xs, ys, label=label, **style)
    _save_plot(plt, fig, ax, "loss (base 2)", "Loss", path)


def plot_rouge(log: TrainingLog, subset: str, path: str) -> bool:
    """Plot valid ROUGE against updates; False (no file) when the run logged no ROUGE."""
    records = log.valid.get(subset, [])
    if not any(t in r for r in records for t in ROUGE_TYPES):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for rouge_type in ROUGE_TYPES:
        xs, ys = _series(records, rouge_type)
        if xs:
            ax.plot(xs, ys, marker="o", label=rouge_type)
    _save_plot(plt, fig, ax, "F1 (%)", f"{subset} ROUGE", path)
    return True


def _save_plot(plt, fig, ax, ylabel: str, title: str, path: str) -> None:
    """Label a plot against updates and write it as a PNG, atomically."""
    ax.set_xlabel("updates")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_output(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, sort_keys=True) + "`"
    return str(value).replace("|", "\\|")


def _table(header: List[str], rows: List[List]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def render_prepare(manifest: PrepareManifest, source: str) -> List[str]:
    """What a ``summ-prepare`` record says: budget, how the retriever was chosen, and per split
    the retriever and the figures."""
    lines = [f"## Retrieval and data ({source})", ""]
    lines += ["Budget: " + ", ".join(f"{k} {_fmt(v)}" for k, v in manifest.budget.to_json().items()), ""]
    reason = manifest.default_choice.get("reason")
    if reason:
        lines += [f"Retriever for valid/test: {_fmt(reason)}", ""]
    if manifest.splits:
        keys: List[str] = []
        for record in manifest.splits.values():
            keys += [key for key in record.figures if key not in keys]
        rows = []
        for split, record in manifest.splits.items():
            setting = manifest.retrievers.get(split)
            rows.append([split, setting.name if setting else None, setting.options if setting else None]
                        + [record.figures.get(k) for k in keys])
        lines += _table(["split", "retriever", "options"] + keys, rows) + [""]
    if manifest.options:
        lines += ["<details><summary>other summ-prepare options</summary>", ""]
        lines += _table(["option", "value"], [[k, v] for k, v in manifest.options.items()])
        lines += ["", "</details>", ""]
    return lines


def render_outputs(diversity, hyps_path: str) -> List[str]:
    """The section on the model's outputs (``--hyps``): how many differ, and the warning when
    they are (nearly) all one summary."""
    lines = ["## Outputs", "",
             f"{diversity.n} summaries in `{hyps_path}`, {diversity.distinct} distinct (distinct-output ratio "
             f"{diversity.ratio:.2f}).", ""]
    if diversity.collapsed:
        lines += [f"**Warning**: {diversity.warning(hyps_path).split(': ', 1)[1]}.", ""]
    return lines


def render_markdown(
    log: TrainingLog, subset: str, metric: str, plots: Dict[str, str], prepare: Optional[PrepareManifest] = None,
    prepare_source: str = "", outputs: Optional[List[str]] = None,
) -> str:
    records = log.valid.get(subset, [])
    best = best_record(records, metric)
    direction = "lower" if is_lower_better(metric) else "higher"
    lines = [f"# Training report: `{log.path}`", ""]
    last_updates = max((r.get("num_updates", 0) for r in records + log.train + log.train_inner), default=0)
    lines.append(f"- {len(records)} validation(s) on `{subset}`, {len(log.train)} epoch(s), {int(last_updates)} updates logged.")
    if outputs and any(line.startswith("**Warning**") for line in outputs):
        lines.append("- **The model's outputs are (nearly) all the same summary**: see Outputs below.")
    path = checkpoint_for(log, best)
    where = f"saved as `{path}`" if path else "no matching 'Saved checkpoint' line in the log"
    lines.append(
        f"- **Best checkpoint by {subset} {metric}** ({direction} is better): {_fmt(best[metric])} at update "
        f"{int(best.get('num_updates', 0))}, epoch {int(best.get('epoch', 0))}; {where}."
    )
    best_key = f"best_{metric}"
    if any(best_key in r for r in records):
        lines.append(f"  The run's `--best-checkpoint-metric` is {metric}, so `checkpoint_best.pt` holds this checkpoint.")
    else:
        run_metric = next((k[5:] for r in records for k in r if k.startswith("best_")), None)
        if run_metric:
            lines.append(
                f"  Note: the run chose `checkpoint_best.pt` by {run_metric}, not {metric}; use the file named above."
            )
    lines.append("")
    rouge_present = [t for t in ROUGE_TYPES if t in best]
    if rouge_present:
        lines += [f"## ROUGE F1 of the best checkpoint ({subset}, during training)", ""]
        lines += _table(["update"] + rouge_present + ["loss"],
                        [[int(best.get("num_updates", 0))] + [best[t] for t in rouge_present] + [best.get("loss")]])
        lines += ["", "Figures from `--eval-rouge` (rouge-score, stemming, rougeLsum over sentences); "
                  "score the test set with `summ-score` for figures with confidence intervals.", ""]
    lines += ["## Last losses", ""]
    rows = []
    for name, recs in (("train (last log interval)", log.train_inner), ("train (last epoch)", log.train),
                       (subset, records)):
        if recs:
            last = recs[-1]
            rows.append([name, int(last.get("num_updates", 0)), last.get("loss"), last.get("nll_loss"), last.get("ppl")])
    lines += _table(["", "update", "loss", "nll_loss", "ppl"], rows) + [""]
    lines += outputs or []
    lines += ["## Plots", ""]
    for title, file_name in plots.items():
        lines.append(f"![{title}]({file_name})")
    lines.append("")
    if prepare is not None:
        lines += render_prepare(prepare, prepare_source)
    return "\n".join(lines).rstrip() + "\n"


def write_report(
    log_path: str, out_dir: str, metric: Optional[str] = None, subset: Optional[str] = None,
    prepare_json: Optional[str] = None, hyps: Optional[str] = None,
) -> Dict[str, str]:
    """Write ``loss.png``, ``rouge.png`` (if ROUGE was logged) and ``report.md`` to ``out_dir``;
    with ``hyps`` (summaries the model wrote, summ-score's format), an Outputs section that
    warns when they are (nearly) all identical."""
    log = parse_log(log_path)
    if not log.valid:
        raise LogFormatError(f"{log_path}: no validation lines (json lines tagged with the valid subset)")
    if subset is None:
        subset = "valid" if "valid" in log.valid else sorted(log.valid)[0]
        logger.info("validation subset: %s (found %s)", subset, sorted(log.valid))
    elif subset not in log.valid:
        raise LogFormatError(f"{log_path}: no '{subset}' lines; validation subsets in the log: {sorted(log.valid)}")
    metric = choose_metric(log.valid[subset], metric)
    prepare = None
    if prepare_json:
        try:
            prepare = read_manifest(prepare_json)
        except DataBinError as err:
            raise LogFormatError(str(err)) from None
    outputs_section = None
    if hyps:
        from summ_plugin.scoring import output_diversity, read_examples

        diversity = output_diversity(read_examples(hyps, ("hypothesis", "summary")).texts)
        if diversity.collapsed:
            logger.warning("%s", diversity.warning(hyps))
        outputs_section = render_outputs(diversity, hyps)
    os.makedirs(out_dir, exist_ok=True)
    outputs = {"loss": os.path.join(out_dir, "loss.png")}
    plot_losses(log, subset, outputs["loss"])
    plots = {"loss": "loss.png"}
    rouge_path = os.path.join(out_dir, "rouge.png")
    if plot_rouge(log, subset, rouge_path):
        outputs["rouge"] = rouge_path
        plots["ROUGE"] = "rouge.png"
    else:
        logger.info("no ROUGE in the %s lines (run without --eval-rouge?): no rouge.png", subset)
    text = render_markdown(log, subset, metric, plots, prepare, prepare_json or "", outputs_section)
    outputs["report"] = os.path.join(out_dir, "report.md")
    atomic_write_text(outputs["report"], text)
    return outputs
