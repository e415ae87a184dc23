"""A daemon thread that repeats one round of work until stopped, resting while idle."""

import logging
import threading

log = logging.getLogger(__name__)


class LoopThread:
    """Runs `step()` on a thread until stopped; between idle rounds it rests `idle_seconds`, or
    until woken. Subclasses say what a round does."""

    def __init__(self, *, name: str, idle_seconds: float) -> None:
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def step(self) -> bool:
        """One round of work; True when more may be waiting right now (no rest)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def wake(self) -> None:
        """New work is waiting: skip the rest of the rest."""
        self._wake.set()

    def stop(self, *, timeout: float = 30.0) -> None:
        """Finish the current round, then stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.step()
            except Exception:
                # A database hiccup must not end the work for the life of the process.
                log.exception("%s: a round failed", self._thread.name)
                busy = False
            if busy:
                continue
            self._wake.wait(self._idle)
            self._wake.clear()
