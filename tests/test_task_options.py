"""Task options the retrieve_summarize task refuses rather than silently ignoring."""
import pytest

from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig, RetrieveSummarizeTask


def test_eval_bleu_is_refused_with_a_pointer_to_eval_rouge(tiny_data_bin):
    cfg = RetrieveSummarizeConfig(data=tiny_data_bin, eval_bleu=True)
    with pytest.raises(ValueError) as raised:
        RetrieveSummarizeTask.setup_task(cfg)
    message = str(raised.value)
    assert "--eval-bleu" in message and "--eval-rouge" in message


def test_the_same_config_without_eval_bleu_sets_up(tiny_data_bin, tiny_vocab):
    task = RetrieveSummarizeTask.setup_task(RetrieveSummarizeConfig(data=tiny_data_bin))
    with open(tiny_vocab["dict"], encoding="utf-8") as handle:
        dict_lines = sum(1 for _ in handle)
    # the data-bin's dictionary: dict.txt's symbols plus fairseq's <s>, <pad>, </s>, <unk>
    assert len(task.source_dictionary) == len(task.target_dictionary) == dict_lines + 4


def test_raw_directory_settings_are_summ_prepares():
    """The task's raw-directory options are PrepareConfig's settings (declared once there): the
    same defaults and help, under the task's names."""
    from dataclasses import fields

    from summ_plugin.data.config import PrepareConfig

    task_fields = {f.name: f for f in fields(RetrieveSummarizeConfig)}
    prepare_fields = {f.name: f for f in fields(PrepareConfig)}
    cfg = RetrieveSummarizeConfig()
    assert (cfg.retriever, cfg.train_retriever, cfg.retriever_options, cfg.split_mode, cfg.prepare_workers) == (
        None, None, "{}", "sentence", 1)
    for task_name, prepare_name in (("retriever", "retriever"), ("train_retriever", "train_retriever"),
                                    ("retriever_options", "retriever_options"), ("split_mode", "split_mode"),
                                    ("prepare_workers", "workers")):
        task_help = task_fields[task_name].metadata["help"]
        assert task_help.startswith("when DATA is a raw directory")
        assert task_help.endswith(prepare_fields[prepare_name].metadata["help"])
