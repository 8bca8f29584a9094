"""The harness's own errors: each names the bad value, what was expected, and what to do.

They all derive from `HarnessError` (a `ValueError`), which the command line turns into a
one-paragraph message and exit status 2 instead of a traceback.
"""


class HarnessError(ValueError):
    """A problem with the user's input or files, explained in its message."""


class ArchStringError(HarnessError):
    """An architecture string, op name or cell array that is not an NB201 cell."""


class OracleQueryError(HarnessError):
    """A query for a dataset, split, hp, seed or epoch that the ground truth does not hold."""


class SourceError(HarnessError):
    """A benchmark file that cannot be imported: unreadable, truncated, or not in the expected format."""


class MissingTableError(HarnessError):
    """No imported ground-truth table where one was looked for."""
