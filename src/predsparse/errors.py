"""The one exception type for bad input: a single clear line naming the value and the rule.

This module is a leaf: every part of the project may import it, and it imports nothing of the project.
The command line turns it into one line on stderr and exit code 2.
"""


class InputError(ValueError):
    """Bad input from a user: the message names the offending value and the rule it breaks."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`InputError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise InputError(message)


class DivergenceError(InputError):
    """Training diverged (NaN loss, a loss far beyond its start, or a network stuck at chance); the message
    says what was seen and how to continue (a lower learning rate, or ``stop_on_divergence=False``).
    ``reason`` is what was seen alone (e.g. for a command line to add its own option's name)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message
