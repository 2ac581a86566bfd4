"""Exact resume in any epoch: the same training batches after a restart as without one.

fairseq builds the training batches once per iterator, ordering the examples by size
under ``numpy_seed(seed + epoch)`` (ties between equal sizes are broken at random; with a
source budget that retrieval fills, most sources tie). An uninterrupted run builds them at
epoch 1 and reuses that iterator for every later epoch (``can_reuse_epoch_itr``), while a
run resumed in epoch E >= 2 builds a new iterator at epoch E, so its batches hold other
examples: parameters then differ by ~5e-3 from the uninterrupted run (stock
``--task translation`` too; epoch 1 is exact because both build at epoch 1).

The task therefore builds a reusable training iterator's batches with the epoch-1 order,
always, and then sets the iterator's epoch to the one asked for (the per-epoch shuffling of
the batches, seeded with ``seed + epoch``, is unchanged). Where fairseq itself rebuilds the
batches every epoch (sharded data ``D/shard0:D/shard1``, ``--rebuild-batches``,
``--update-epoch-batch-itr``, ``--disable-iterator-cache``), both runs already build them
at the same epoch and nothing is changed. ``--update-ordered-indices-seed`` (the trainer
passes ``seed + epoch`` as the seed) is not covered.
"""
import logging

logger = logging.getLogger(__name__)


def batch_order_epoch(task, dataset, epoch: int, kwargs) -> int:
    """The epoch whose seed orders ``dataset``'s batches: 1 for a reusable training
    iterator (what an uninterrupted run uses in every epoch), else ``epoch``."""
    train = task.datasets.get(getattr(task.cfg, "train_subset", "train"))
    if dataset is not train or epoch <= 1:
        return epoch
    if dataset in getattr(task, "dataset_to_epoch_iter", {}):
        return epoch  # fairseq returns the cached iterator untouched
    if kwargs.get("disable_iterator_cache") or kwargs.get("update_epoch_batch_itr"):
        return epoch
    if not task.can_reuse_epoch_itr(dataset) or task.has_sharded_data("train"):
        return epoch
    if getattr(task.cfg, "rebuild_batches", False):
        return epoch
    return 1


def restore_iterator_epoch(iterator, dataset, epoch: int, batch_epoch: int):
    if batch_epoch != epoch:
        # batches ordered as in epoch 1; the iterator and the dataset are in ``epoch``
        iterator.epoch = max(epoch, 1)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(iterator.epoch)
        logger.info("training batches built with the epoch-1 example order, as an uninterrupted run "
                    "has them in epoch %d (exact resume)", epoch)
    return iterator
