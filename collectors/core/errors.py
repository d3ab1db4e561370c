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


class NoAnswer(KashoOpsError):
    """A server took longer than its client-side deadline to answer (frozen, or unreachable
    behind a TCP stack that still accepts); the connection was abandoned."""

    def __init__(self, seconds: float, phase: str = "") -> None:
        self.seconds = seconds
        suffix = f" ({phase})" if phase else ""
        super().__init__(f"no answer from the server in {seconds:g} s{suffix}")


class TargetBusy(KashoOpsError):
    """Every monitoring connection to a target is in use by runs that have not ended yet."""
