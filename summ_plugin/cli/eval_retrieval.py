"""summ-eval-retrieval: how much of the reference each retriever's selected source covers.

    python -m summ_plugin.cli.eval_retrieval --input data/sample/test.jsonl \\
        --retrievers lead,bm25,centrality,hybrid,oracle --max-positions 1024 \\
        --encoder-json E --vocab-bpe V [--selector selector.json] [--json out.json]
    # what a longer window buys: several budgets side by side
    python -m summ_plugin.cli.eval_retrieval --input data/sample/test.jsonl --max-positions 1024,2048 ...

For every record and retriever, ``select_source`` picks a source within the same budget;
its ROUGE-1/2 recall against the reference (``retrieval_coverage``) is averaged. The
oracle is the upper bound; "gap closed" is how much of the lead-to-oracle distance a
retriever covers: (retriever - lead) / (oracle - lead).

Records are cleaned and budgeted by summ-prepare's ExampleEncoder (summ_plugin.data.encoder),
with the reference visible to the retrievers that read it (the oracle). Token counting: with
--encoder-json/--vocab-bpe the exact GPT-2 BPE, as data preparation counts; without them an
approximation (1.3 tokens per word, see ``summ_plugin.retrieval.tokens``).
"""
import argparse
import logging
import os
import sys
import time
from typing import Dict, List, Optional

from tqdm import tqdm

from summ_plugin.data.bad_records import BadRecordPolicy
from summ_plugin.data.encoder import ExampleEncoder
from summ_plugin.data.formats import iter_input_records
from summ_plugin.data.text import clean_record
from summ_plugin.atomic import atomic_write_json
from summ_plugin.cli.common import (
    add_retrieval_tool_options, passage_counting_encoder, prepare_default, record_fields, run_main,
)
from summ_plugin.errors import UserError
from summ_plugin.retrieval import available_retrievers, build_retriever

logger = logging.getLogger("summ_plugin.cli.eval_retrieval")

PROG = "summ-eval-retrieval"


def parse_options(specs: List[str], names: List[str]) -> Dict[str, Dict[str, str]]:
    """``--option bm25.k1=1.5`` -> {"bm25": {"k1": "1.5"}} (retrievers convert types)."""
    options: Dict[str, Dict[str, str]] = {name: {} for name in names}
    for spec in specs:
        key, sep, value = spec.partition("=")
        retriever, dot, option = key.partition(".")
        if not sep or not dot or not option:
            raise UserError(f"--option {spec!r}: expected RETRIEVER.KEY=VALUE, e.g. bm25.k1=1.5")
        if retriever not in options:
            raise UserError(f"--option {spec!r}: {retriever!r} is not in --retrievers")
        options[retriever][option] = value
    return options


def build_all(names: List[str], options: Dict[str, Dict[str, str]], selector: Optional[str]):
    retrievers = {}
    for name in names:
        kwargs = dict(options.get(name, {}))
        uses_selector = name == "learned" or (name == "hybrid" and kwargs.get("scorer") == "learned")
        if uses_selector and "selector" not in kwargs:
            if not selector:
                raise UserError(f"retriever {name!r} needs --selector FILE (made by summ-train-selector)")
            kwargs["selector"] = selector
        try:
            retrievers[name] = build_retriever(name, **kwargs)
        except ValueError as err:
            raise UserError(str(err)) from err
    return retrievers


def evaluate(path: str, retrievers: Dict, encoder: ExampleEncoder, max_docs: Optional[int] = None,
             fmt: str = "auto", fields=None, on_bad_record: str = "error") -> Dict:
    sums = {name: {"rouge1_recall": 0.0, "rouge2_recall": 0.0, "n_tokens": 0, "seconds": 0.0}
            for name in retrievers}
    n_records = 0
    policy = BadRecordPolicy(on_bad_record, UserError)
    for item in tqdm(policy.records(iter_input_records(path, fmt, fields)), desc="records", unit="rec", disable=None):
        if max_docs is not None and n_records >= max_docs:
            break
        n_records += 1
        record, _ = clean_record(item)
        for name, retriever in retrievers.items():
            start = time.perf_counter()
            # several references: the best over them; a reference-guided retriever (the
            # oracle) selects for each reference in turn and the best selection counts
            guided = record.references if getattr(retriever, "needs_reference", False) else [record.summary]
            best = None
            for reference in guided:
                selection = encoder.select(record, retriever, use_reference=True, reference=reference)
                coverage = encoder.coverage(selection, record.references)
                if best is None or (coverage["rouge2_recall"], coverage["rouge1_recall"]) > \
                        (best[1]["rouge2_recall"], best[1]["rouge1_recall"]):
                    best = (selection, coverage)
            selection, coverage = best
            sums[name]["seconds"] += time.perf_counter() - start
            for key in ("rouge1_recall", "rouge2_recall"):
                sums[name][key] += coverage[key]
            sums[name]["n_tokens"] += selection.n_tokens
    if n_records == 0:
        raise UserError(f"{path}: no records")
    results = {}
    for name, total in sums.items():
        results[name] = {
            "rouge1_recall": total["rouge1_recall"] / n_records,
            "rouge2_recall": total["rouge2_recall"] / n_records,
            "mean_tokens": total["n_tokens"] / n_records,
            # count_tokens is cached across retrievers, so later ones look faster
            "records_per_second": n_records / total["seconds"] if total["seconds"] > 0 else None,
        }
    for name, result in results.items():
        for key in ("rouge1_recall", "rouge2_recall"):
            gap = None
            if "lead" in results and "oracle" in results:
                low, high = results["lead"][key], results["oracle"][key]
                if high > low:
                    gap = (result[key] - low) / (high - low)
            result[key.replace("_recall", "_gap_closed")] = gap
    return {"input": path, "records": n_records, "max_positions": encoder.max_source_positions,
            "split_mode": encoder.split_mode, "results": results}


def markdown_table(report: Dict, token_counting: str) -> str:
    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}"

    lines = [
        f"Coverage of the reference by the selected source: {report['input']}, "
        f"{report['records']} records, --max-positions {report['max_positions']}, "
        f"{token_counting}.",
        "",
        "| retriever | ROUGE-1 recall | ROUGE-2 recall | gap closed R-1 (%) | gap closed R-2 (%) | mean tokens |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["results"].items():
        lines.append(f"| {name} | {pct(r['rouge1_recall'])} | {pct(r['rouge2_recall'])} | "
                     f"{pct(r['rouge1_gap_closed'])} | {pct(r['rouge2_gap_closed'])} | {r['mean_tokens']:.0f} |")
    return "\n".join(lines)


def side_by_side_table(reports: List[Dict], token_counting: str) -> str:
    """One row per retriever, one column per budget for each figure."""
    budgets = [r["max_positions"] for r in reports]

    def cells(name: str, key: str, fmt) -> List[str]:
        return [fmt(r["results"][name][key]) for r in reports]

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}"

    header = ["retriever"]
    for label in ("ROUGE-1 recall", "ROUGE-2 recall", "gap closed R-2 (%)", "mean tokens"):
        header += [f"{label} @{b}" for b in budgets]
    lines = [
        f"Coverage of the reference by the selected source: {reports[0]['input']}, "
        f"{reports[0]['records']} records, budgets {', '.join(map(str, budgets))} tokens, {token_counting}.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for name in reports[0]["results"]:
        row = [name] + cells(name, "rouge1_recall", pct) + cells(name, "rouge2_recall", pct)
        row += cells(name, "rouge2_gap_closed", pct) + cells(name, "mean_tokens", lambda v: f"{v:.0f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def parse_budgets(spec: str) -> List[int]:
    """``1024`` or ``1024,2048``: distinct budgets in the order given."""
    budgets = []
    for part in spec.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise UserError(f"--max-positions {spec!r}: expected integers like 1024 or 1024,2048") from None
        if value < 8:
            raise UserError(f"--max-positions {value} is too small")
        if value not in budgets:
            budgets.append(value)
    return budgets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="records with summaries (any input format summ-prepare "
                        "reads, see --format)")
    parser.add_argument("--retrievers", default="lead,bm25,centrality,hybrid,oracle",
                        help=f"comma-separated, from: {', '.join(available_retrievers())}")
    parser.add_argument("--max-positions", "--max-source-positions", dest="max_positions",
                        default=str(prepare_default("max_source_positions")), metavar="N[,N...]",
                        help="source budget in tokens (the model's --max-source-positions; default: %(default)s, "
                        "summ-prepare's); several, comma-separated (1024,2048), are reported side by side")
    parser.add_argument("--selector", help="selector JSON for the learned retriever")
    parser.add_argument("--option", action="append", default=[], metavar="RETRIEVER.KEY=VALUE",
                        help="retriever option, e.g. hybrid.lead_share=0.2 (repeatable)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    add_retrieval_tool_options(parser, "exact token counts")
    return parser


def main(argv=None) -> int:
    return run_main(build_parser(), argv, run)


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.retrievers.split(",") if n.strip()]
    if not names:
        raise UserError("--retrievers is empty")
    if not os.path.isfile(args.input):
        raise UserError(f"input file not found: {args.input}")
    budgets = parse_budgets(args.max_positions)
    encoder = passage_counting_encoder(args)
    if args.encoder_json:
        token_counting = "exact GPT-2 BPE token counts"
    else:
        token_counting = "approximate token counts (1.3 per word)"
    retrievers = build_all(names, parse_options(args.option, names), args.selector)
    if not args.encoder_json:
        logger.info("no --encoder-json/--vocab-bpe: counting tokens approximately")
    fields = record_fields(args)
    reports = [evaluate(args.input, retrievers, encoder.with_source_positions(budget), args.max_docs,
                        args.input_format, fields, args.on_bad_record)
               for budget in budgets]
    if len(reports) == 1:
        report = reports[0]
        report["token_counting"] = token_counting
        print(markdown_table(report, token_counting))
    else:
        report = {"input": args.input, "records": reports[0]["records"], "token_counting": token_counting,
                  "budgets": reports}
        print(side_by_side_table(reports, token_counting))
    if args.json:
        atomic_write_json(args.json, report)
        logger.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
