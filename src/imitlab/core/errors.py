"""Error types whose messages tell the user what to change; the CLI prints them in one line without a traceback
(exit status 2). Any other exception is a bug, shown with its traceback (exit status 1); ``--debug`` shows the
traceback of these too."""


class ImitlabError(Exception):
    """Base of imitlab's user-facing errors."""


class InvalidInputError(ImitlabError, ValueError):
    """An input imitlab cannot use: a config field, flag or ``--set`` value, an array of the wrong shape, a dataset's
    content; the message names it and says what would work. A ``ValueError`` too, as such checks raised before."""


class UsageError(ImitlabError):
    """Command-line options that do not go together, or one that is missing."""


class MissingFileError(ImitlabError, FileNotFoundError):
    """A file or directory the command needs is not there; the message says which and what makes it."""
