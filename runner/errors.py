"""The error hierarchy: every failure the user can act on is a RunnerError."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class RunnerError(Exception):
    """An operation failed for a reason the user can understand and fix (exit 1)."""

    exit_code = EXIT_FAILED


class UsageError(RunnerError):
    """The command line or the environment is wrong (exit 2)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ConfigError(UsageError):
    """A configuration file is malformed: the message starts with file:line:column."""

    def __init__(self, position: Position, key_path: str, message: str) -> None:
        self.position = position
        self.key_path = key_path
        self.detail = message
        where = f"{position}: {key_path}: " if key_path else f"{position}: "
        super().__init__(where + message)


class PhaseError(RunnerError):
    """A non-command phase failed with CodeBuild's own status and code (YAML_FILE_ERROR …)."""

    status = "FAILED"
    status_code = "CLIENT_ERROR"
    hint = ""  # one more log line, after the phase's context line


class EngineError(RunnerError):
    """The Docker engine refused or failed an operation."""


class GitError(RunnerError):
    """git could not answer (not a repository, unknown commit …)."""


class StoreError(RunnerError):
    """The state store cannot be opened or written."""

    exit_code = EXIT_USAGE
