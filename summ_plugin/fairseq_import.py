"""Import fairseq without its logging side effects; ``summ_plugin/__init__.py`` imports this first.

Importing fairseq runs ``logging.basicConfig(level=logging.DEBUG)`` (in
``fairseq/models/wav2vec/wav2vec2_classification.py``) and logs a "Please install tensorboardX"
notice (``fairseq.tasks.text_to_speech``). In a program that imports summ_plugin before
configuring logging (every summ-* tool, a notebook) every library's DEBUG lines would then be
printed, and the program's own ``logging.basicConfig`` would do nothing. fairseq's CLIs
configure logging before they import the plugin: there the root logger already has handlers
and is left as it is.
"""
import logging


class _DropTensorboardXNotice(logging.Filter):
    """The notice is about fairseq's speech tasks, which summarization never uses."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "tensorboardX" not in record.getMessage()


logging.getLogger("fairseq.tasks.text_to_speech").addFilter(_DropTensorboardXNotice())

_root = logging.getLogger()
_handlers_before, _level_before = list(_root.handlers), _root.level

import fairseq  # noqa: E402,F401

if not _handlers_before:
    # undo fairseq's basicConfig: only this import configured the root logger
    for _handler in [h for h in _root.handlers if h not in _handlers_before]:
        _root.removeHandler(_handler)
    _root.setLevel(_level_before)
