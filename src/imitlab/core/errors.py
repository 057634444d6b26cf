"""Error types whose messages tell the user what to change; the CLI prints them without a traceback."""


class ImitlabError(Exception):
    """Base of imitlab's user-facing errors."""
