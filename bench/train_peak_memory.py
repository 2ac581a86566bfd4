#!/usr/bin/env python
"""fairseq-train in this process, then its peak GPU memory as the last line of output.

    python bench/train_peak_memory.py DATA --arch bart_base --fp16 ...   (fairseq-train's arguments)

Single-GPU fairseq-train trains in the process that starts it, so torch's own counters see all
of it: ``peak_gpu_memory {"allocated_mb": ..., "reserved_mb": ...}`` (max_memory_allocated is
what tensors held at the worst moment; max_memory_reserved adds the caching allocator's slack,
closer to what nvidia-smi shows). Nothing is printed without CUDA: bench/run.py then reports the
process's peak RSS instead.
"""
import atexit
import json
import sys

PEAK_TAG = "peak_gpu_memory"


def report_peak_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        figures = {"allocated_mb": torch.cuda.max_memory_allocated() / 2 ** 20,
                   "reserved_mb": torch.cuda.max_memory_reserved() / 2 ** 20}
        print(f"{PEAK_TAG} {json.dumps(figures)}", flush=True)


def parse_peak_gpu_memory(output: str):
    """The figures printed by this wrapper, or None (no CUDA, or the run failed before)."""
    for line in reversed(output.splitlines()):
        if line.startswith(PEAK_TAG + " "):
            return json.loads(line[len(PEAK_TAG) + 1:])
    return None


if __name__ == "__main__":
    atexit.register(report_peak_gpu_memory)
    from fairseq_cli.train import cli_main

    sys.argv[0] = "fairseq-train"
    cli_main()
