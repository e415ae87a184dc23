"""Group commit for streamed messages: concurrent requests share one transaction per batch."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from chat_ingest.schemas import MessageEvent
from chat_ingest.service import StoredMessage, store_message, store_messages
from engine.db import Database

log = logging.getLogger(__name__)
Pending = tuple[MessageEvent, "asyncio.Future[StoredMessage]"]
Outcome = StoredMessage | BaseException


class MessageWriter:
    """Stores messages from many requests in batches, one transaction per batch.

    A request's future resolves only after its batch has committed, so a `202` always
    means the message is on disk. If a batch fails as a whole, its messages are retried
    one by one, so one bad message never fails the others.

    On SQLite a batch takes about a millisecond and runs on the event loop itself: handing
    it to a thread makes the two threads queue for the GIL, which costs more than the write.
    A database across a network is written from a worker thread, so the loop never waits on it.
    """

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._on_stored = on_stored
        self._max_batch = max_batch
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background flusher on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="message-writer")

    async def store(self, event: MessageEvent) -> StoredMessage:
        """Store one message (batched with whatever else is waiting) and return its fate."""
        if self._task is None or self._task.done():
            raise RuntimeError("the message writer is not running")
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        while self._pending:
            await self._flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # One turn of the loop lets requests that are already readable join this batch.
            await asyncio.sleep(0)
            while self._pending:
                await self._flush()

    async def _flush(self) -> None:
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        events = [event for event, _ in batch]
        if self._db.is_sqlite:
            outcomes = self._write(events)
        else:
            outcomes = await asyncio.to_thread(self._write, events)
        if self._on_stored:  # tell the pipeline there is work, without waiting for its poll
            self._on_stored()
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the request went away
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _write(self, events: list[MessageEvent]) -> list[Outcome]:
        try:
            with self._db.write() as session:
                results = store_messages(session, events=events)
            return list(results)
        except Exception:
            log.exception("batch of %d messages failed; storing them one by one", len(events))
        outcomes: list[Outcome] = []
        for event in events:
            try:
                with self._db.write() as session:
                    outcomes.append(store_message(session, event=event))
            except Exception as error:  # handed to the waiting request, which answers for it
                outcomes.append(error)
        return outcomes
