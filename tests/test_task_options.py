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
