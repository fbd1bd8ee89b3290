"""Counters the runtime keeps for operators (`status`, `/metrics`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable


def _ignore(_: int) -> None:
    """The default observer: nobody exports histograms (no `/metrics` registry)."""


class RuntimeStats:
    """Plain counters, updated by actors and the supervisor on the event loop (no locking)."""

    def __init__(self) -> None:
        self.commands: Counter[tuple[str, str]] = Counter()
        self.restarts = 0
        self.quarantines = 0
        self.passivations = 0
        self.storage_failures = 0
        # Writes of commands (batches) and the commands they stored: appends per commit.
        self.commits = 0
        self.committed = 0
        # Each write's batch size (commands), for whoever exports histograms (`/metrics`).
        self.observe_batch: Callable[[int], None] = _ignore

    def count_command(self, name: str, outcome: str) -> None:
        self.commands[(name, outcome)] += 1

    def count_commit(self, commands: int) -> None:
        self.commits += 1
        self.committed += commands
        self.observe_batch(commands)
