"""Resume after a crash: a fairseq-train run killed with SIGKILL mid-epoch, started again
with the same command, ends with the parameters of a run that was never interrupted."""
import os
import re
import signal
import subprocess
import time

import pytest
import torch

from tests._fairseq import process_env, run, train_command

MAX_UPDATE = 8
# tiny_data_bin has 24 train examples: batches of 2 give 12 updates per epoch, so every
# checkpoint below is a mid-epoch one (the epoch iterator's position is in it).
RESUME_ARGS = ["--batch-size", "2", "--max-update", str(MAX_UPDATE), "--save-interval-updates", "2",
               "--disable-validation", "--no-epoch-checkpoints"]
SAVED = re.compile(r"Saved checkpoint \S+ \(epoch (\d+) @ (\d+) updates")


def run_and_kill_after_save(cmd, kill_at_update, timeout=300):
    """Start training, SIGKILL it as soon as the checkpoint at ``kill_at_update`` is saved."""
    proc = subprocess.Popen(cmd, env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + timeout
    killed_after = None
    try:
        for line in proc.stdout:
            lines.append(line)
            match = SAVED.search(line)
            if match and int(match.group(2)) >= kill_at_update:
                os.kill(proc.pid, signal.SIGKILL)
                killed_after = int(match.group(2))
                break
            if time.monotonic() > deadline:
                break
    finally:
        if proc.poll() is None and killed_after is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    assert killed_after is not None, "training ended before the checkpoint to kill at:\n" + "".join(lines)[-4000:]
    assert proc.returncode == -signal.SIGKILL
    return killed_after, "".join(lines)


def load_model_state(path):
    from summ_plugin.checkpoints import load_checkpoint_safely

    state = load_checkpoint_safely(path)
    return state, state["model"]


@pytest.mark.usefixtures("fairseq_processes")
def test_sigkill_mid_epoch_then_same_command_resumes_to_the_same_parameters(tiny_data_bin, tmp_path):
    reference_dir = str(tmp_path / "uninterrupted")
    run(train_command(tiny_data_bin, reference_dir, *RESUME_ARGS))

    crash_dir = str(tmp_path / "crashed")
    cmd = train_command(tiny_data_bin, crash_dir, *RESUME_ARGS)
    killed_after, _ = run_and_kill_after_save(cmd, kill_at_update=4)
    assert 4 <= killed_after < MAX_UPDATE

    # what the kill left behind is a complete checkpoint, never a half-written one
    last = os.path.join(crash_dir, "checkpoint_last.pt")
    state, _ = load_model_state(last)
    saved_updates = state["optimizer_history"][-1]["num_updates"]
    assert 4 <= saved_updates < MAX_UPDATE
    iterator = state["extra_state"]["train_iterator"]
    assert iterator["epoch"] == 1 and 0 < iterator["iterations_in_epoch"] < 12  # mid-epoch
    assert not [n for n in os.listdir(crash_dir) if ".tmp" in n]

    out = run(cmd)  # the very same command
    assert re.search(r"Loaded checkpoint \S+checkpoint_last\.pt \(epoch 1 @ %d updates\)" % saved_updates, out), out[-3000:]
    resumed_updates = [int(m) for m in re.findall(r'"num_updates": "(\d+)"', out)]
    assert resumed_updates and resumed_updates[0] == saved_updates + 1  # no update repeated or skipped

    ref_state, ref_model = load_model_state(os.path.join(reference_dir, "checkpoint_last.pt"))
    new_state, new_model = load_model_state(last)
    assert new_state["optimizer_history"][-1]["num_updates"] == MAX_UPDATE
    assert ref_state["optimizer_history"][-1]["num_updates"] == MAX_UPDATE
    assert new_state["extra_state"]["train_iterator"] == ref_state["extra_state"]["train_iterator"]
    assert ref_model.keys() == new_model.keys()
    for name, ref_tensor in ref_model.items():
        assert torch.allclose(new_model[name], ref_tensor, rtol=0, atol=1e-5), name
    # and training really moved the parameters (a no-op training would pass the above too)
    _, early_model = load_model_state(os.path.join(crash_dir, "checkpoint_1_2.pt"))
    assert any(not torch.allclose(early_model[k], ref_model[k], atol=1e-5) for k in ref_model)


def test_checkpoint_last_is_replaced_atomically(tmp_path, monkeypatch):
    """fairseq writes the first checkpoint file atomically but *copies* it to
    checkpoint_last.pt with shutil.copyfile: a crash during that copy would leave a truncated
    checkpoint_last.pt, which the next run would try to resume from. The plugin makes that
    copy atomic (temp file in the same directory, then os.replace)."""
    import shutil

    import summ_plugin  # noqa: F401  (installs the atomic copy)
    from fairseq import checkpoint_utils

    src = tmp_path / "checkpoint_1_4.pt"
    dst = tmp_path / "checkpoint_last.pt"
    src.write_bytes(b"new" * 100000)
    dst.write_bytes(b"old checkpoint")

    assert checkpoint_utils.PathManager.copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == src.read_bytes()

    # a crash in the middle of the copy leaves the previous checkpoint_last.pt untouched
    dst.write_bytes(b"old checkpoint")
    real_copyfileobj = shutil.copyfileobj

    def crash_midway(fsrc, fdst, length=0):
        fdst.write(fsrc.read(10))
        raise OSError("simulated crash during copy")

    monkeypatch.setattr(shutil, "copyfileobj", crash_midway)
    with pytest.raises(OSError, match="simulated crash"):
        checkpoint_utils.PathManager.copy(str(src), str(dst), overwrite=True)
    monkeypatch.setattr(shutil, "copyfileobj", real_copyfileobj)
    assert dst.read_bytes() == b"old checkpoint"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_1_4.pt", "checkpoint_last.pt"]
