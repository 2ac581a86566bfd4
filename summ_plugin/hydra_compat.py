"""fairseq-hydra-train cannot restore a BART checkpoint on its own; this fills the gap.

Under ``fairseq-hydra-train`` a legacy model's ``args`` is the model section alone (a
``TransformerConfig``), not the whole command line. ``BARTModel.upgrade_state_dict_named``
reads ``self.args.task`` (to tell mBART's ``multilingual_denoising`` apart), so every
``checkpoint.restore_file`` of a BART model stops with ``AttributeError: invalid argument
task`` (fairseq 0.12.2 and fairseq-fixed 0.12.3.1), wrapped as "Cannot load model parameters
... ensure that the architectures match". ``fairseq-train`` passes the full Namespace and is
not affected. No fairseq import.
"""


def give_model_args_the_task_name(model, task_name: str):
    """Set ``model.args.task`` when the model's args lack it (hydra), so BART's checkpoint
    upgrade can read it; with fairseq-train's Namespace it is already there and left alone."""
    args = getattr(model, "args", None)
    if args is None:
        return model
    try:
        getattr(args, "task")
    except AttributeError:
        # TransformerConfig.__setattr__ only redirects encoder_*/decoder_* names: this sets a
        # plain attribute on the config object, nothing else changes
        setattr(args, "task", task_name)
    return model
