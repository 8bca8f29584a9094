"""Training: the weight-sharing supernet (SPOS uniform single path, DARTS first-order) and standalone cells,
with checkpoints (always epoch 0), exact resume and a per-epoch JSONL log.

`harness.train.loop.train(config, out)` runs one; this package's top level holds only the configuration, so
reading or writing configs does not import torch.
"""
from harness.train.config import TrainConfig, standalone_config, supernet_config

__all__ = ["TrainConfig", "standalone_config", "supernet_config"]
