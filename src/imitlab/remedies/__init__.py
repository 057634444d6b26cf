"""Compounding error's remedies: DAgger, DART, noise augmentation, CCIL, and their comparison."""
