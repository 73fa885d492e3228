"""Adaptive micro-batching of single-patient requests.

Each ``/predict`` request puts its patient on a queue and awaits its probability. One worker
takes what is queued and scores it in one model call, on a thread of its own (the event loop
keeps parsing the next requests meanwhile). Idle, a request is scored at once; when the last
call scored more than one patient (requests are arriving together), the worker waits up to
``MICROBATCH_WINDOW_MS`` for more, up to ``MICROBATCH_MAX``.

Each request carries the model it started with, so a champion swap never changes a request in
flight; a batch holds one model's requests. If a batch fails, its patients are scored one by
one: a patient the model cannot score fails its own request only.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from readmission_api import metrics


@dataclass
class _Item:
    model: Any  # model_store.LoadedModel
    row: dict[str, Any]
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """The queue and its worker (started with the app's event loop)."""

    def __init__(self, window_ms: float, max_size: int):
        self.window = window_ms / 1000
        self.max_size = max_size
        self._queue: asyncio.Queue[_Item] | None = None
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="microbatch")
        self._busy = False

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="microbatch")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def score(self, model: Any, row: dict[str, Any]) -> float:
        """This patient's probability, scored with ``model`` (possibly with others)."""
        assert self._queue is not None, "MicroBatcher.start() was not called"
        item = _Item(model, row, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(item)
        return await item.future

    def _drain(self, batch: list[_Item]) -> None:
        while len(batch) < self.max_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            self._drain(batch)
            if self._busy and self.window > 0 and len(batch) < self.max_size:
                await asyncio.sleep(self.window)
                self._drain(batch)
            self._busy = len(batch) > 1
            started = time.perf_counter()
            for item in batch:
                metrics.QUEUE_WAIT.observe(started - item.queued)
            metrics.BATCH_SIZE.observe(len(batch))
            for model, items in _by_model(batch):
                try:
                    results = await loop.run_in_executor(self._executor, _score, model, items)
                except Exception as exc:  # the executor itself failed: fail these, keep going
                    results = [(None, exc)] * len(items)
                for item, (value, error) in zip(items, results, strict=True):
                    if item.future.done():  # the client went away
                        continue
                    if error is None:
                        item.future.set_result(value)
                    else:
                        item.future.set_exception(error)


def _by_model(batch: list[_Item]) -> list[tuple[Any, list[_Item]]]:
    groups: dict[int, tuple[Any, list[_Item]]] = {}
    for item in batch:
        groups.setdefault(id(item.model), (item.model, []))[1].append(item)
    return list(groups.values())


def _score(model: Any, items: list[_Item]) -> list[tuple[float | None, Exception | None]]:
    """One call for all; if it fails, one call per patient so only the bad ones fail."""
    try:
        return [(float(p), None) for p in model.predict_proba([i.row for i in items])]
    except Exception as exc:
        if len(items) == 1:
            return [(None, exc)]
    out: list[tuple[float | None, Exception | None]] = []
    for item in items:
        try:
            out.append((float(model.predict_proba([item.row])[0]), None))
        except Exception as exc:
            out.append((None, exc))
    return out
