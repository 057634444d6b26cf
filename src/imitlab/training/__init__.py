"""The training loop, checkpoints and run directories, data-parallel training."""
