"""Errors a person can act on: each message is one line saying what is wrong and how to fix it."""


class KashoOpsError(Exception):
    """Base for every error the CLI turns into one line and an exit code."""

    exit_code = 1


class ConfigError(KashoOpsError):
    """The configuration file or an environment override is invalid."""

    exit_code = 2


class MigrationError(KashoOpsError):
    """A migration could not be applied, or the version table is dirty."""


class TargetUnavailable(KashoOpsError):
    """A monitored server could not be reached; the message carries the redacted reason."""


class StoreUnavailable(KashoOpsError):
    """The metrics store could not be reached or written."""
