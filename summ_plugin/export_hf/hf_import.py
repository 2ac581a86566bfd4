"""Importing the optional extra (transformers, safetensors, tokenizers) or stopping with the
one line that says how to install it."""
import logging

from .errors import ExportError

logger = logging.getLogger(__name__)

HF_EXTRA_HINT = "summ-export-hf needs the optional extra: pip install -e '.[hf]'"


def _hide_unloadable_torchaudio() -> None:
    """fairseq pulls in torchaudio, and the newest one on the registry (2.11) cannot load its
    C extension under torch 2.13 (OSError). transformers imports torchaudio whenever it is
    installed, so every BART import would fail. Where ``import torchaudio`` fails anyway,
    mark it absent (``sys.modules[name] = None``: find_spec then says "not installed");
    a working torchaudio is left alone."""
    import sys

    if "torchaudio" in sys.modules:
        return
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        return
    except OSError as err:
        logger.info("torchaudio cannot be loaded here (%s); transformers will run without it", err)
        for name in [n for n in sys.modules if n.startswith("torchaudio.")]:
            del sys.modules[name]
        sys.modules["torchaudio"] = None
        # transformers caches the answer; if it was imported already, ask it again
        import_utils = sys.modules.get("transformers.utils.import_utils")
        cached = getattr(import_utils, "is_torchaudio_available", None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def require_hf_extra():
    """Import transformers, safetensors and tokenizers, or stop with the one line that says how."""
    _hide_unloadable_torchaudio()
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
        import transformers
    except ImportError:
        raise ExportError(HF_EXTRA_HINT) from None
    return transformers
