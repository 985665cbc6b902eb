"""Errors that end a command with a clear message and a defined exit code (docs/architecture.md, principle 7)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_BAD_INPUT = 2


class WhaleError(Exception):
    """A failure the user can act on: printed as one message, never as a traceback."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInputError(WhaleError):
    """Bad config, arguments or input files: exit code 2."""

    exit_code = EXIT_BAD_INPUT


class StartupCancelled(WhaleError):
    """Ctrl-C or SIGTERM arrived during start-up: not a failure, so the exit code is 0."""

    exit_code = EXIT_OK
