"""Registration that tolerates being imported twice.

A user may ``import summ_plugin`` (the pip-installed package) and also pass
``--user-dir summ_plugin`` pointing at a checkout; fairseq then imports our modules a second
time, and its ``register_*`` decorators raise "Cannot register duplicate ...". The first
registration wins; later ones return the class unchanged and log which one is in use.
"""
import logging

from fairseq.criterions import CRITERION_REGISTRY, register_criterion
from fairseq.tasks import TASK_REGISTRY, register_task

logger = logging.getLogger(__name__)


def _register_once(kind, registry, register, name, dataclass):
    def wrapper(cls):
        if name in registry:
            existing = registry[name]
            if existing is not cls:
                logger.info(
                    "%s '%s' already registered by %s; keeping it (this copy: %s)",
                    kind, name, existing.__module__, cls.__module__,
                )
            return cls
        return register(name, dataclass=dataclass)(cls)

    return wrapper


def register_task_once(name, dataclass=None):
    return _register_once("task", TASK_REGISTRY, register_task, name, dataclass)


def register_criterion_once(name, dataclass=None):
    return _register_once("criterion", CRITERION_REGISTRY, register_criterion, name, dataclass)
