"""Support weighting: weights from coverage, and the batch field the criterion reads."""
import json

import numpy as np
import pytest
import torch
from fairseq.data import Dictionary, LanguagePairDataset

from summ_plugin.errors import UserError
from summ_plugin.tasks.support_weights import (
    SampleWeightsDataset,
    load_support_weights,
    support_weights_from_coverage,
)


def test_weights_follow_coverage_with_mean_one_and_a_floor():
    w = support_weights_from_coverage([0.9, 0.45, 0.0], power=1.0, floor=0.1)
    # floored coverage 0.9, 0.45, 0.1 (mean 1.45 / 3), divided by its mean: 2.7 / 1.45,
    # 1.35 / 1.45, 0.3 / 1.45
    assert w.tolist() == pytest.approx([1.862069, 0.931034, 0.206897], abs=1e-6)
    assert w.mean() == pytest.approx(1.0)
    assert w[0] == pytest.approx(2 * w[1])
    assert w[2] == pytest.approx(w[0] * 0.1 / 0.9)
    sharper = support_weights_from_coverage([0.9, 0.45, 0.0], power=2.0, floor=0.1)
    assert sharper[0] / sharper[1] == pytest.approx(4.0)


def test_weights_are_attached_by_sample_id():
    d = Dictionary()
    for i in range(10):
        d.add_symbol(str(i))
    src = [torch.tensor([5 + i] * (i + 1) + [d.eos()]) for i in range(4)]
    tgt = [torch.tensor([6, d.eos()]) for _ in range(4)]
    base = LanguagePairDataset(src, [len(s) for s in src], d, tgt, [len(t) for t in tgt], d)
    ds = SampleWeightsDataset(base, np.array([0.5, 1.0, 1.5, 2.0]))
    batch = ds.collater([ds[i] for i in (3, 0, 2)])
    # the collater orders by source length, longest first (sample i has i + 2 tokens):
    # ids 3, 2, 0, and the weights of those samples follow them
    assert batch["id"].tolist() == [3, 2, 0]
    assert batch["weights"].tolist() == [2.0, 1.5, 0.5]
    assert len(ds.collater([])) == 0


def test_meta_file_must_match_the_data_bin(tmp_path):
    meta = tmp_path / "train.meta.jsonl"
    meta.write_text("\n".join(json.dumps({"id": str(i), "rouge1_recall": 0.5}) for i in range(3)) + "\n")
    assert load_support_weights(str(tmp_path), "train", 3, power=1.0, floor=0.1).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="3 lines but the train data-bin has 4"):
        load_support_weights(str(tmp_path), "train", 4, power=1.0, floor=0.1)
    with pytest.raises(UserError, match="summ-prepare"):  # one line under fairseq-train
        load_support_weights(str(tmp_path), "valid", 3, power=1.0, floor=0.1)
