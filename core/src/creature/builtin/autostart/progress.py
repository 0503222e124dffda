"""Progress of host up and host down drawn on a terminal (rich): the machines being worked on, and what is left."""

from __future__ import annotations

import threading

from creature.builtin.autostart.autostart import Progress


class TerminalProgress(Progress):
    """A live bar on stderr naming the machines in flight; each finished machine leaves one line above it."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True, highlight=False)
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=True)
        self.active: dict[str, str] = {}
        self.lock = threading.Lock()  # worker threads report at once
        self.task = None
        self.action = ""

    def _show(self, note: str = "") -> None:
        busy = ", ".join(f"{n} {w}" for n, w in list(self.active.items())[:3])
        more = len(self.active) - 3
        text = busy + (f" and {more} more" if more > 0 else "")
        self.bar.update(self.task, description=f"host {self.action}: {note or text or 'working'}")

    def begin(self, action: str, total: int) -> None:
        self.action = action
        self.task = self.bar.add_task(f"host {action}", total=total)
        self.bar.start()

    def working(self, name: str, what: str) -> None:
        with self.lock:
            self.active[name] = what
            self._show()

    def finished(self, name: str, outcome: str) -> None:
        with self.lock:
            self.active.pop(name, None)
            self.bar.advance(self.task)
            self.bar.console.print(f"{name}: {outcome}")
            self._show()

    def waiting(self, seconds: float, why: str) -> None:
        with self.lock:
            self._show(f"waiting {seconds:g} s ({why})")

    def end(self) -> None:
        self.bar.stop()
