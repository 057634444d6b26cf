"""Deployment: ``export`` writes a trained policy's networks as ONNX graphs with a manifest (config,
normalisation statistics, sampler settings); ``runtime`` runs them with numpy and onnxruntime only (no torch);
``adapter`` puts a deployed policy behind the interface the chunk executor drives; ``compiled`` wraps eager
inference in ``torch.compile``.

This package's ``__init__`` imports nothing, so ``imitlab.deploy.runtime`` stays importable without torch.
"""
