"""Foundations every layer may use: errors, seed spaces, file helpers, registries, batch keys."""
