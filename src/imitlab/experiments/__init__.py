"""Run specifications, study grids and their executors, and the tuned recipes."""
