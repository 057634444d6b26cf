"""imitlab: learn robot control policies from demonstrations, and prove which action generator works."""

__version__ = "0.1.0"
