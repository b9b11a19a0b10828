"""Sending webhook deliveries: :class:`WebhookDispatcher`.

A dispatcher loops over two store calls: ``enqueue_webhook_events`` (new events become pending
deliveries) and ``claim_webhook_deliveries`` (due deliveries, leased to this dispatcher), then
POSTs each claimed body and records the outcome. A lineal server starts one in a background
thread (:meth:`WebhookDispatcher.start`); ``lineal webhooks deliver`` runs one without a server
(an embedded store, or cron with ``--once``). Any number of dispatchers may run against one
database: the store hands each delivery to one of them at a time.

Retries: a delivery that fails (a connection error, a timeout, any answer but 2xx) is tried
again after ``backoff * 2 ** (attempt - 1)`` seconds (capped at ``max_backoff``, with up to 10%
jitter so that receivers coming back are not hit all at once), until ``max_attempts`` attempts
have been made; it is then ``failed``. With the defaults (8 attempts, 10 s doubling) the last
attempt comes about 21 minutes after the first.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..entities import DeliveryJob, WebhookDelivery, now_us
from ..errors import Conflict, InvalidArgument, LinealError
from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

if TYPE_CHECKING:
    import httpx

    from ..store import Store
    from ..store.base import MetadataStore

__all__ = ["DispatchReport", "WebhookDispatcher"]

log = logging.getLogger("lineal.webhooks")
USER_AGENT = "lineal-webhooks/0.1"


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one pass of a dispatcher did."""

    enqueued: int = 0
    """Deliveries created from new events."""
    attempted: int = 0
    """Deliveries sent (a claim lost meanwhile counts here only)."""
    delivered: int = 0
    retrying: int = 0
    """Attempts that failed and will be tried again."""
    failed: int = 0
    """Attempts that failed for the last time."""

    def to_dict(self) -> dict[str, Any]:
        return {"enqueued": self.enqueued, "attempted": self.attempted,
                "delivered": self.delivered, "retrying": self.retrying, "failed": self.failed}


def _owner() -> str:
    host = socket.gethostname()[:40]
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


class WebhookDispatcher:
    """Deliver a store's webhook events.

    >>> dispatcher = WebhookDispatcher(lineal.open_store())      # doctest: +SKIP
    >>> dispatcher.start()        # a daemon thread, polling every second
    >>> dispatcher.stop()

    ``client``: an ``httpx.Client`` to send with (default: one of the dispatcher's own, closed
    by :meth:`close`); ``timeout``: seconds per attempt; ``max_attempts``: attempts before a
    delivery is ``failed``; ``backoff``/``max_backoff``: seconds before the second attempt,
    doubling, and its cap; ``batch``: deliveries claimed per pass; ``poll_interval``: seconds
    between passes of the background thread when there is nothing to do; ``workers``: how
    many webhooks are sent to side by side (each webhook's deliveries go out one at a time, in
    event order).
    """

    def __init__(
        self,
        store: Store | MetadataStore,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        max_attempts: int = 8,
        backoff: float = 10.0,
        max_backoff: float = 3600.0,
        batch: int = 50,
        poll_interval: float = 1.0,
        workers: int = 4,
    ) -> None:
        for name, value in (("timeout", timeout), ("backoff", backoff),
                            ("max_backoff", max_backoff), ("poll_interval", poll_interval)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise InvalidArgument(f"{name} must be a positive number of seconds, got {value!r}")
        for name, count in (("max_attempts", max_attempts), ("batch", batch), ("workers", workers)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise InvalidArgument(f"{name} must be 1 or more, got {count!r}")
        from ..store import Store

        self.metadata: MetadataStore = store.metadata if isinstance(store, Store) else store
        self.timeout = float(timeout)
        self.max_attempts = max_attempts
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.batch = batch
        self.poll_interval = float(poll_interval)
        self.workers = workers
        self.owner = _owner()
        # Long enough to send a whole batch one after the other (a batch for one slow
        # webhook goes out in order), so a claim never lapses while its delivery waits here;
        # :meth:`deliver` also refuses to start a send that could outlast it.
        self.lease_us = int((self.batch * self.timeout + 30.0) * 1_000_000)
        self._client = client
        self._own_client = client is None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass ----------------------------------------------------------------------------------
    def run_once(self) -> DispatchReport:
        """Enqueue new events, then make one attempt at every due delivery (in batches until
        none is left). Returns what was done; store errors propagate."""
        enqueued = 0
        while True:
            added = self.metadata.enqueue_webhook_events()
            enqueued += added
            if added == 0:
                break
        counts = {"attempted": 0, "delivered": 0, "retrying": 0, "failed": 0}
        while True:
            jobs = self.metadata.claim_webhook_deliveries(
                self.owner, now_us(), limit=self.batch, lease_us=self.lease_us)
            for delivery in self._send_all(jobs):
                self._tally(counts, delivery)
            if len(jobs) < self.batch:
                break
        return DispatchReport(enqueued=enqueued, **counts)

    def _send_all(self, jobs: list[DeliveryJob]) -> list[WebhookDelivery | None]:
        """Send claimed jobs: each webhook's in order, different webhooks side by side (up to
        ``workers``), so that one slow receiver does not hold up the others'."""
        groups: dict[str, list[DeliveryJob]] = {}
        for job in jobs:
            groups.setdefault(job.delivery.webhook_id, []).append(job)
        if len(groups) <= 1 or self.workers == 1:
            return [self.deliver(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(groups)),
                                thread_name_prefix="lineal-webhook-send") as pool:
            sent = pool.map(lambda group: [self.deliver(job) for job in group], groups.values())
            return [delivery for group in sent for delivery in group]

    def send_now(self, delivery_id: str) -> WebhookDelivery:
        """Make one attempt at the pending delivery ``delivery_id`` now (``lineal webhooks
        test``); Conflict if it is not pending or another dispatcher holds it."""
        jobs = self.metadata.claim_webhook_deliveries(
            self.owner, now_us(), limit=1, lease_us=self.lease_us, delivery_id=delivery_id)
        done = self.deliver(jobs[0]) if jobs else None
        if done is None:
            raise Conflict(f"delivery {delivery_id} is not pending, or another dispatcher has it")
        return done

    def deliver(self, job: DeliveryJob) -> WebhookDelivery | None:
        """POST one claimed delivery and record the outcome; returns the delivery as recorded,
        or None if the claim was lost meanwhile (the webhook was removed, or the lease lapsed
        and another dispatcher took the delivery over) or would lapse before the attempt could
        end (then nothing is sent). A ``ping`` is never retried."""
        if now_us() + int(self.timeout * 1_000_000) >= job.lease_until_us:
            # The claim could lapse mid-send and another dispatcher send it too: leave it.
            log.warning("webhook delivery %s: claim about to lapse, not sent", job.delivery.id)
            return None
        status_code, error = self._post(job)
        delivered = error is None
        attempts = job.delivery.attempts
        next_us = None
        if not delivered and attempts < self.max_attempts and job.delivery.event_type != "ping":
            next_us = now_us() + int(self._delay(attempts) * 1_000_000)
        try:
            return self.metadata.record_webhook_attempt(
                job.delivery.id, job.owner, delivered=delivered, status_code=status_code,
                error=error, next_attempt_us=next_us)
        except Conflict as lost:
            log.warning("webhook delivery %s: %s", job.delivery.id, lost)
            return None

    def _post(self, job: DeliveryJob) -> tuple[int | None, str | None]:
        import httpx

        body = job.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(job.secret, body),
            TIMESTAMP_HEADER: str(int(time.time())),
            EVENT_HEADER: job.delivery.event_type,
            DELIVERY_HEADER: job.delivery.id,
        }
        try:
            response = self.client.post(job.url, content=body, headers=headers,
                                        timeout=self.timeout)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return response.status_code, None
        text = response.text.strip().replace("\n", " ")[:200]
        return response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else "")

    def _delay(self, attempts: int) -> float:
        base = min(self.max_backoff, self.backoff * 2 ** (attempts - 1))
        return base * (1 + random.uniform(0, 0.1))  # noqa: S311 - jitter, not a secret

    @staticmethod
    def _tally(counts: dict[str, int], delivery: WebhookDelivery | None) -> None:
        counts["attempted"] += 1
        if delivery is None:  # the claim was lost: the delivery is someone else's now
            return
        if str(delivery.status) == "delivered":
            counts["delivered"] += 1
        elif str(delivery.status) == "pending":
            counts["retrying"] += 1
        else:
            counts["failed"] += 1

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(follow_redirects=False)
        return self._client

    # -- in the background ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run passes in a daemon thread until :meth:`stop`: a write never waits for it, and an
        error (a receiver, or the database, down) is logged and the next pass tried."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="lineal-webhooks",
                                        daemon=True)
        self._thread.start()

    def run_forever(self) -> None:
        """Passes until :meth:`stop` (the background thread's body; ``lineal webhooks deliver``
        runs it in the foreground)."""
        while not self._stop.is_set():
            try:
                report = self.run_once()
            except LinealError as error:
                log.warning("webhook dispatch pass failed: %s", error)
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("webhook dispatch pass failed")
            else:
                if report.attempted or report.enqueued:
                    log.debug("webhook pass: %s", report.to_dict())
            self._stop.wait(self.poll_interval)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread (after the attempt in flight) and close the client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Close the HTTP client the dispatcher made (not one it was given)."""
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
