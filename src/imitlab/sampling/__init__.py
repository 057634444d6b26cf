"""The sampling loops of the heads, written once against the Python array API: the torch policies and the
torch-free deployed runtime run the same code (imports neither torch nor imitlab.policies)."""
