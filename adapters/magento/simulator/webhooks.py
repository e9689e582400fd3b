"""Order webhooks pushed the way Adobe Commerce's webhooks module sends them.

Every order the simulator creates or changes (generated, stored, invoiced, shipped,
commented) becomes, for each configured event, one call::

    POST <url>
    Content-Type: application/json
    x-adobe-commerce-webhook-signature: <base64 RSA-SHA256 over base64(body)>   (if signing)
    <configured headers>

    {"eventName": "sales_order_save_after", "data": {"order": <GET /V1/orders/{id} body>}}

The body is rendered (and serialised with the simulator's exact JSON) when the order
changes, so every call carries the order as it was right then. Calls leave one at a time in
the order the changes happened (FIFO) from a background task of the server's event loop;
a failed call (a transport error or a non-2xx answer) is retried ``retries`` times after
``backoff_seconds``, doubling. Changing the configuration or resetting the simulator drops
the calls not yet sent. Changes made before the event loop runs (``initial_orders``) wait
for the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.magento.simulator.state import WebhookConfig, dumps
from hub.security.signatures import sign_adobe

__all__ = ["WebhookPusher", "order_event_bodies"]


def order_event_bodies(config: WebhookConfig, order: dict[str, Any]) -> list[bytes]:
    """The bodies the configured events send for ``order`` (already rendered)."""
    return [
        dumps({"eventName": event.removeprefix("observer."), "data": {"order": order}})
        for event in config.events
    ]


@dataclass(frozen=True)
class _Call:
    body: bytes
    config: WebhookConfig
    generation: int


class WebhookPusher:
    """The queue of webhook calls and the task that sends them."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.generation = 0
        self._pending: deque[_Call] = deque()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.dropped = 0
        self.last_error: str | None = None

    @property
    def enabled(self) -> bool:
        return self.config.url is not None

    def configure(self, config: WebhookConfig) -> None:
        """Use ``config`` from now on; calls not yet sent are dropped."""
        self.config = config
        self._drop_pending()

    def reset(self, config: WebhookConfig) -> None:
        self.configure(config)
        self._reset_counters()

    def _drop_pending(self) -> None:
        self.generation += 1
        self.dropped += len(self._pending)
        self._pending.clear()
        self._update_idle()

    def order_changed(self, order: dict[str, Any]) -> None:
        """Queue the calls for an order (as ``render_order`` returns it)."""
        if not self.enabled:
            return
        for body in order_event_bodies(self.config, order):
            self._pending.append(_Call(body, self.config, self.generation))
        self.start()
        self._update_idle()
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        """Start the sending task on the running event loop, unless it runs already."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the calls wait for the first request
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._busy = False
        self._update_idle()
        if self._pending:
            self._wake.set()
        self._task = loop.create_task(self._run(), name="magento-simulator-webhooks")

    def _update_idle(self) -> None:
        if self._idle is None:
            return
        if self._pending or self._busy:
            self._idle.clear()
        else:
            self._idle.set()

    @property
    def pending(self) -> int:
        return len(self._pending) + (1 if self._busy else 0)

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued call has been sent or given up (at most ``timeout``)."""
        if self._pending:
            self.start()
        if self._idle is None or self.pending == 0:
            return self.pending == 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return self.pending == 0

    def counters(self) -> dict[str, Any]:
        return {
            "webhooks_sent": self.sent,
            "webhooks_failed": self.failed,
            "webhooks_retried": self.retried,
            "webhooks_dropped": self.dropped,
            "webhooks_pending": self.pending,
            "webhooks_last_error": self.last_error,
        }

    async def _run(self) -> None:
        assert self._wake is not None
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
            while True:
                if not self._pending:
                    self._wake.clear()
                    self._update_idle()
                    await self._wake.wait()
                    continue
                call = self._pending.popleft()
                self._busy = True
                try:
                    await self._send(client, call)
                except Exception as exc:  # noqa: BLE001 -- the sender must outlive any call
                    if call.generation == self.generation:
                        self.failed += 1
                        self.last_error = f"{type(exc).__name__}: {exc}"
                finally:
                    self._busy = False
                    self._update_idle()

    async def _send(self, client: httpx.AsyncClient, call: _Call) -> None:
        config = call.config
        headers = {"Content-Type": "application/json", **config.headers}
        if config.private_key_pem is not None:
            headers.update(sign_adobe(config.private_key_pem, call.body))
        url = str(config.url)
        for attempt in range(config.retries + 1):
            if attempt:
                await asyncio.sleep(config.backoff_seconds * 2 ** (attempt - 1))
            if call.generation != self.generation:
                return  # configuration changed or simulator reset: counted as dropped
            if attempt:
                self.retried += 1
            try:
                response = await client.post(
                    url, content=call.body, headers=headers, timeout=config.timeout
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                if 200 <= response.status_code < 300:
                    if call.generation == self.generation:
                        self.sent += 1
                    return
                error = f"HTTP {response.status_code}"
            if call.generation == self.generation:
                self.last_error = error
        if call.generation == self.generation:
            self.failed += 1
