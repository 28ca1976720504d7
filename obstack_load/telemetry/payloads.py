"""Ready-to-send OTLP request bodies, and a pool that keeps them fresh off the hot path.

Building a realistic 100-record batch and gzipping it costs 1 to 2 ms of Python, while one
Locust core can post about 2,700 requests/s: building every body per request would cap the
generator near a fifth of what it can send. So the ingestion users take bodies from a
``PayloadPool``: a ring of distinct encoded (and compressed) batches per process and signal,
shared by every user of that process. A background greenlet rebuilds one slot at a time so that
every slot is rebuilt within ``refresh_s``: timestamps are at most that old, cumulative metrics
keep counting and new trace ids keep coming, at a cost of about 1% of a core.

Pool size 0 builds every body fresh, as ingest-then-verify needs (each batch carries its own tag).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
from google.protobuf.message import Message

from obstack_load.telemetry import otlp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Payload:
    body: bytes  # exactly what goes on the wire
    items: int
    raw_bytes: int  # encoded size before compression
    content_type: str
    # the request events' context, made once per body rather than per request (the results
    # plugin reads the item count from it); listeners must not change it
    context: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", {"obstack_items": self.items})

    @property
    def wire_bytes(self) -> int:
        return len(self.body)


def encode_payload(signal: str, message: Message, content_type: str, gzip: bool) -> Payload:
    raw = otlp.encode(message, content_type)
    body = otlp.compress(raw) if gzip else raw
    return Payload(body, otlp.count_items(signal, message), len(raw), content_type)


class PayloadPool:
    """A ring of ``size`` distinct bodies. The first ``FIRST_BODIES`` are built at once and the
    rest by the background greenlet, one at a time, before it starts refreshing: building all
    64 at once took 0.2 to 0.4 s of a loaded core, during which the whole worker stood still
    (every user of every class on it), and the first user of a signal that Locust moved to a
    worker mid-run sent nothing."""

    FIRST_BODIES = 4

    def __init__(self, build: Callable[[], Payload], size: int, refresh_s: float) -> None:
        self.build = build
        self.size = size
        self.slots = [build() for _ in range(min(size, self.FIRST_BODIES))]
        self.refresh_s = refresh_s
        self._next = 0
        self._oldest = 0
        self._filler = gevent.spawn(self._fill_then_refresh)

    def take(self) -> Payload:
        payload = self.slots[self._next]
        self._next = (self._next + 1) % len(self.slots)
        return payload

    def _fill_then_refresh(self) -> None:
        while len(self.slots) < self.size:
            # one body at a time, when the loop has nothing else to do: sleep(0) may run this
            # greenlet again before the loop polls for I/O (gevent's own docs), and a worker's
            # heartbeats and requests must not wait on its pools
            gevent.idle()
            body = self._built()
            if body is None:
                break  # the ring stays at the bodies it has
            self.slots.append(body)
        if self.refresh_s <= 0:
            return
        interval = self.refresh_s / len(self.slots)
        while True:
            gevent.sleep(interval)
            body = self._built()
            if body is not None:
                self.slots[self._oldest] = body
            self._oldest = (self._oldest + 1) % len(self.slots)

    def _built(self) -> Payload | None:
        try:
            return self.build()
        except Exception:  # a broken generator must not kill the pool: the old body stays
            logger.exception("obstack-load: building an OTLP payload failed")
            return None

    def close(self) -> None:
        self._filler.kill(block=False)


class FreshPayloads:
    """The pool's interface, building every body when it is taken."""

    def __init__(self, build: Callable[[], Payload]) -> None:
        self.build = build

    def take(self) -> Payload:
        return self.build()

    def close(self) -> None:
        pass
