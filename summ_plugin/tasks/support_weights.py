"""Support weighting: pairs whose retrieved source covers little of the reference teach
the model to hallucinate, so they can count less. Off by default.

Weights come from the retrieval coverage that summ-prepare writes in ``{split}.meta.jsonl``
(one line per example, data-bin order): w_i = max(coverage_i, floor) ** power, scaled to
mean 1 so the loss keeps its scale and learning rates keep their meaning.
"""
import os

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from ..data.formats import iter_jsonl_objects
from ..data.records import BadRecordError

COVERAGE_KEY = "rouge1_recall"


def support_weights_from_coverage(coverage, power: float = 1.0, floor: float = 0.1) -> np.ndarray:
    coverage = np.asarray(coverage, dtype=np.float64)
    weights = np.maximum(coverage, floor) ** power
    return weights / weights.mean()


def load_support_weights(data_path: str, split: str, expected: int, power: float, floor: float) -> np.ndarray:
    meta_path = os.path.join(data_path, f"{split}.meta.jsonl")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(
            f"--support-weighting needs {meta_path} (written by summ-prepare); prepare the data with summ-prepare"
        )
    coverage = []
    for location, entry in iter_jsonl_objects(meta_path):
        if isinstance(entry, BadRecordError):
            raise entry
        if entry.get(COVERAGE_KEY) is None:
            raise ValueError(f"{location}: no '{COVERAGE_KEY}' (split prepared without summaries?)")
        coverage.append(float(entry[COVERAGE_KEY]))
    if len(coverage) != expected:
        raise ValueError(f"{meta_path} has {len(coverage)} lines but the {split} data-bin has {expected} examples")
    return support_weights_from_coverage(coverage, power=power, floor=floor)


class SampleWeightsDataset(BaseWrapperDataset):
    """Adds ``sample["weights"]`` (one per sample, in batch order) to each collated batch."""

    def __init__(self, dataset, weights: np.ndarray):
        super().__init__(dataset)
        self.weights = torch.from_numpy(np.asarray(weights, dtype=np.float32))

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if len(batch) > 0:
            batch["weights"] = self.weights[batch["id"]]
        return batch

    def num_tokens_vec(self, indices):
        return self.dataset.num_tokens_vec(indices)
