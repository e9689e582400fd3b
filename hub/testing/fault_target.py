"""A loopback HTTP delivery target with injectable faults, for tests and benchmarks.

It behaves like a well-made target -- each ``Idempotency-Key`` has its effect once, a
repeat answers ``200`` with the original reference -- and records what it saw, so a test
can check from the outside that the hub delivered every message once and in order:

* **effects** by idempotency key (a repeat is counted as a suppressed duplicate, never as a
  second effect, unless the ``ignore_idempotency`` fault is on);
* **order**: for each ``X-O2C-Ordering-Key``, the sequence of the payload's ``seq`` values
  (field name configurable) in the order the effects landed; an effect whose ``seq`` is not
  above every earlier one of its key is an *order violation*;
* **counters**: calls, effects, duplicates suppressed, faults injected by kind, error
  answers by status.

Endpoints::

    POST|PUT /deliver            deliver to the target "default"
    POST|PUT /deliver/{target}   one server, several targets: each its own state and counters
    GET      /_stats             ?target=NAME to select one, ?detail=false without per-key data
    POST     /_reset             forget everything; faults back to the start-up set
                                 (?keep_faults=true keeps the current ones)
    GET|PUT  /_faults            the faults in force; PUT replaces them (omitted fields take
                                 their defaults); ?target=NAME for one target's own set
    GET      /_delivery          ?key=IDEMPOTENCY_KEY&target=NAME: what was recorded for it
    GET|HEAD /healthz[/{target}] 200, or 503 while the target is ``down``

A request to ``/deliver`` meets the faults in this order: ``down`` → ``require_headers``
→ ``error_rate`` → ``slow_rate`` → the idempotency check (a repeat returns the original
answer here) → ``permanent_for`` → the effect → ``land_then_timeout_rate``.
``land_then_timeout`` therefore only ever hits a *new* effect: the retry of the same key
gets the original reference at once, as a real target's replay would.

``down`` answers ``503`` with ``Retry-After`` (``retry_after`` seconds, 1 if unset) to every
delivery and health probe, but the control endpoints (``/_*``) keep working. Closing
connections instead was rejected: the control endpoints must stay reachable to bring the
target back up, and "connection refused" is better produced by stopping the server or using
a closed port. The client sees ``RateLimited``, the queue backs off, the counters keep
counting the refused calls.

Randomness is deterministic: each target draws from its own ``random.Random`` seeded with
``f"{seed}:{target}"``, four numbers per call whatever the faults, so the same calls in the
same order meet the same faults (``/_reset`` re-seeds).

Running it: :func:`run_fault_target` starts the server in a **subprocess** on a socket the
parent has already bound (the real port is known before the child starts; port 0 picks a
free one) and yields the base URL. A subprocess rather than a thread because the target
has to keep up with several hub worker processes: in a thread it would share the test
process's GIL and event-loop-blocking test code, slowing it and the test down together,
and a wedged thread cannot be stopped; a process has its own interpreter, is stopped with
SIGTERM (killed after ``stop_timeout``), and exits by itself if its parent dies. Tests talk
to it over HTTP only (:class:`FaultTargetClient` helps). POSIX only (the socket is handed
over with ``pass_fds``).

Standalone: ``python -m hub.testing.fault_target --port 8099 --seed 7 [--faults JSON]``.
It listens on loopback addresses only: it has no authentication.

State lives in memory and grows with the keys delivered (a few hundred bytes each); use
``/_reset`` between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import ClientDisconnect

from hub.testing.loopback import base_url, listen, run_module, serve_app

__all__ = [
    "DEFAULT_TARGET",
    "FaultTargetClient",
    "FaultTargetConfig",
    "Faults",
    "create_app",
    "main",
    "run_fault_target",
    "serve",
]

DEFAULT_TARGET: Final = "default"
_TARGET_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_MAX_ATTEMPTS_KEPT: Final = 100


# --------------------------------------------------------------------------- configuration


class Faults(BaseModel):
    """What the target does wrong. Every field defaults to "nothing"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    down: bool = Field(
        default=False,
        description="Answer 503 with Retry-After to every delivery and health probe.",
    )
    error_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of calls answered with an error status."
    )
    error_status: tuple[int, ...] = Field(
        default=(500, 502, 503),
        description="Statuses picked from (uniformly) when a call is chosen to fail.",
    )
    retry_after: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="Retry-After seconds sent with an injected 429 or 503 (none if unset).",
    )
    retry_after_format: Literal["seconds", "http-date"] = Field(
        default="seconds", description="Send Retry-After as delay-seconds or as an HTTP-date."
    )
    slow_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of calls delayed before they are handled."
    )
    slow_seconds: float = Field(default=0.0, ge=0, le=60, description="Delay of a slow call.")
    permanent_for: tuple[str, ...] = Field(
        default=(),
        description=(
            "Payload values that are refused with 422, e.g. SKUs: "
            '`"SKU 24-MB01 unknown"`. Matched at `permanent_path`.'
        ),
    )
    permanent_path: str | None = Field(
        default=None,
        description=(
            "Dotted path of the values checked against `permanent_for` (lists on the way are "
            "searched element by element, e.g. `document.to_Item.Material`). Unset: any "
            "string anywhere in the payload."
        ),
    )
    permanent_label: str = Field(
        default="SKU", description="Word naming the refused values in the 422 message."
    )
    land_then_timeout_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "Share of new effects that are committed and then answered only after "
            "`land_then_timeout_seconds`, so a client with a shorter timeout gives up."
        ),
    )
    land_then_timeout_seconds: float = Field(
        default=5.0, ge=0, le=60, description="How long a landed call withholds its answer."
    )
    require_headers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Headers a call must carry with exactly these values, else 401. The 401 message "
            "echoes the value received, as careless real targets do, so tests can prove the "
            "client scrubs secrets."
        ),
    )
    ignore_idempotency: bool = Field(
        default=False,
        description="Apply every call as a new effect (a target that does not honour keys).",
    )

    @field_validator("error_status")
    @classmethod
    def _statuses_ok(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for status in value:
            if not 400 <= status <= 599:
                raise ValueError(f"error_status {status} is not a 4xx or 5xx status")
        return value


class FaultTargetConfig(BaseModel):
    """Start-up configuration of a fault target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=0, description="Seed of every target's random draws.")
    seq_field: str = Field(
        default="seq",
        min_length=1,
        description="Top-level payload field holding the increasing number order is checked by.",
    )
    faults: Faults = Field(default_factory=Faults, description="Faults in force at start.")


# --------------------------------------------------------------------------- state


def _rng(seed: str) -> random.Random:
    """Fault draws: reproducible on purpose, nothing to do with security."""
    return random.Random(seed)  # noqa: S311


@dataclass
class _Record:
    reference: str
    status_code: int
    payload: dict[str, Any]
    ordering_key: str | None
    correlation_id: str | None
    message_id: str | None
    attempts: list[str]
    effects: int = 1
    repeats: int = 0


@dataclass
class _TargetState:
    name: str
    rng: random.Random
    calls: int = 0
    effects: int = 0
    duplicates_suppressed: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    errors_by_status: Counter[int] = field(default_factory=Counter)
    records: dict[str, _Record] = field(default_factory=dict)
    sequences: dict[str, list[int]] = field(default_factory=dict)
    highest: dict[str, int] = field(default_factory=dict)
    order_violations: list[dict[str, Any]] = field(default_factory=list)
    next_reference: int = 1

    def stats(self, *, detail: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "calls": self.calls,
            "effects": self.effects,
            "duplicates_suppressed": self.duplicates_suppressed,
            "faults_injected": dict(sorted(self.faults_injected.items())),
            "errors_by_status": {str(k): v for k, v in sorted(self.errors_by_status.items())},
            "keys": len(self.records),
            "order_violations": list(self.order_violations),
        }
        if detail:
            out["effects_by_key"] = {k: r.effects for k, r in self.records.items()}
            out["duplicates_by_key"] = {k: r.repeats for k, r in self.records.items() if r.repeats}
            out["sequences"] = {k: list(v) for k, v in self.sequences.items()}
        return out


class FaultTargetState:
    """Everything the server knows; mutated only on its event loop (no locks needed: no
    ``await`` sits between a check and the update it guards)."""

    def __init__(self, config: FaultTargetConfig) -> None:
        self.config = config
        self.default_faults = config.faults
        self.target_faults: dict[str, Faults] = {}
        self.targets: dict[str, _TargetState] = {}

    def target(self, name: str) -> _TargetState:
        state = self.targets.get(name)
        if state is None:
            state = _TargetState(name, _rng(f"{self.config.seed}:{name}"))
            self.targets[name] = state
        return state

    def faults_for(self, name: str) -> Faults:
        return self.target_faults.get(name, self.default_faults)

    def reset(self, *, keep_faults: bool) -> None:
        self.targets.clear()
        if not keep_faults:
            self.default_faults = self.config.faults
            self.target_faults.clear()

    def stats(self, target: str | None, *, detail: bool) -> dict[str, Any]:
        if target is None:
            selected = dict(self.targets)
        else:
            selected = {target: self.targets.get(target) or _TargetState(target, _rng(""))}
        blocks = {name: st.stats(detail=detail) for name, st in sorted(selected.items())}
        injected: Counter[str] = Counter()
        for st in selected.values():
            injected.update(st.faults_injected)
        totals = {
            "calls": sum(st.calls for st in selected.values()),
            "effects": sum(st.effects for st in selected.values()),
            "duplicates_suppressed": sum(st.duplicates_suppressed for st in selected.values()),
            "faults_injected": dict(sorted(injected.items())),
            "order_violations": sum(len(st.order_violations) for st in selected.values()),
        }
        return {"targets": blocks, "totals": totals}


# --------------------------------------------------------------------------- behaviour


def _retry_after_header(seconds: int, form: str) -> str:
    if form == "http-date":
        return formatdate(time.time() + seconds, usegmt=True)
    return str(seconds)


def _values_at(value: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _values_at(item, path)
        return
    if not path:
        yield value
        return
    if isinstance(value, dict) and path[0] in value:
        yield from _values_at(value[path[0]], path[1:])


def _all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_strings(item)


def _refused_values(payload: dict[str, Any], faults: Faults) -> list[str]:
    if not faults.permanent_for:
        return []
    wanted = set(faults.permanent_for)
    if faults.permanent_path is None:
        found: Iterator[Any] = _all_strings(payload)
    else:
        found = _values_at(payload, faults.permanent_path.split("."))
    refused: list[str] = []
    for value in found:
        text = str(value) if isinstance(value, str | int) else None
        if text is not None and text in wanted and text not in refused:
            refused.append(text)
    return refused


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": "fault_target", "message": message}, status_code=status, headers=headers
    )


def _check_target_name(name: str) -> JSONResponse | None:
    if _TARGET_NAME.match(name):
        return None
    return _error(404, f"no target named {name!r}")


async def _deliver(state: FaultTargetState, request: Request, target: str) -> Response:
    bad_name = _check_target_name(target)
    if bad_name is not None:
        return bad_name
    st = state.target(target)
    faults = state.faults_for(target)
    st.calls += 1
    # always four draws, so the stream does not depend on which faults are switched on
    r_error, r_pick, r_slow, r_land = (st.rng.random() for _ in range(4))
    try:
        raw = await request.body()  # before any sleep: a client that gave up has no body
    except ClientDisconnect:
        return Response(status_code=499)

    if faults.down:
        st.faults_injected["down"] += 1
        st.errors_by_status[503] += 1
        after = faults.retry_after if faults.retry_after is not None else 1
        return _error(
            503,
            f"target {target} is down",
            {"Retry-After": _retry_after_header(after, faults.retry_after_format)},
        )

    for name, expected in faults.require_headers.items():
        got = request.headers.get(name)
        if got != expected:
            st.faults_injected["auth"] += 1
            st.errors_by_status[401] += 1
            # echoes the refused value, as careless services do: clients must scrub it
            said = "missing" if got is None else f"value {got!r} not accepted"
            return _error(401, f"header {name}: {said}")

    if faults.error_status and r_error < faults.error_rate:
        status = faults.error_status[int(r_pick * len(faults.error_status))]
        st.faults_injected["error"] += 1
        st.errors_by_status[status] += 1
        headers: dict[str, str] = {}
        if status in {429, 503} and faults.retry_after is not None:
            headers["Retry-After"] = _retry_after_header(
                faults.retry_after, faults.retry_after_format
            )
        return _error(status, f"injected fault: HTTP {status}", headers)

    if r_slow < faults.slow_rate:
        st.faults_injected["slow"] += 1
        await asyncio.sleep(faults.slow_seconds)

    try:
        payload = json.loads(raw)
    except ValueError:
        st.errors_by_status[400] += 1
        return _error(400, "body is not JSON")
    if not isinstance(payload, dict):
        st.errors_by_status[400] += 1
        return _error(400, "body is not a JSON object")
    key = request.headers.get("Idempotency-Key")
    if not key:
        st.errors_by_status[400] += 1
        return _error(400, "Idempotency-Key header is required")
    attempt = request.headers.get("X-O2C-Attempt", "")

    record = st.records.get(key)
    if record is not None and not faults.ignore_idempotency:
        record.repeats += 1
        if len(record.attempts) < _MAX_ATTEMPTS_KEPT:
            record.attempts.append(attempt)
        st.duplicates_suppressed += 1
        return JSONResponse(
            {"reference": record.reference, "status": "duplicate", "idempotency_key": key},
            status_code=200,
            headers={"Location": f"/deliveries/{quote(target)}/{quote(record.reference)}"},
        )

    refused = _refused_values(payload, faults)
    if refused:
        st.faults_injected["permanent"] += 1
        st.errors_by_status[422] += 1
        return _error(422, f"{faults.permanent_label} {', '.join(refused)} unknown")

    # the effect: from here on the delivery has landed
    reference = f"{target.upper()}-{st.next_reference:06d}"
    st.next_reference += 1
    st.effects += 1
    ordering_key = request.headers.get("X-O2C-Ordering-Key")
    if record is None:
        st.records[key] = _Record(
            reference=reference,
            status_code=201,
            payload=payload,
            ordering_key=ordering_key,
            correlation_id=request.headers.get("X-O2C-Correlation-Id"),
            message_id=request.headers.get("X-O2C-Message-Id"),
            attempts=[attempt],
        )
    else:  # ignore_idempotency: a second effect for the same key
        record.effects += 1
        record.reference = reference
        if len(record.attempts) < _MAX_ATTEMPTS_KEPT:
            record.attempts.append(attempt)
    seq = payload.get(state.config.seq_field)
    if ordering_key and isinstance(seq, int) and not isinstance(seq, bool):
        st.sequences.setdefault(ordering_key, []).append(seq)
        highest = st.highest.get(ordering_key)
        if highest is not None and seq <= highest:
            st.order_violations.append(
                {
                    "ordering_key": ordering_key,
                    "seq": seq,
                    "after": highest,
                    "idempotency_key": key,
                }
            )
        else:
            st.highest[ordering_key] = seq

    if r_land < faults.land_then_timeout_rate:
        st.faults_injected["land_then_timeout"] += 1
        await asyncio.sleep(faults.land_then_timeout_seconds)

    return JSONResponse(
        {"reference": reference, "status": "created", "idempotency_key": key},
        status_code=201,
        headers={"Location": f"/deliveries/{quote(target)}/{quote(reference)}"},
    )


def _health(state: FaultTargetState, target: str, request: Request) -> Response:
    bad_name = _check_target_name(target)
    if bad_name is not None:
        return bad_name
    faults = state.faults_for(target)
    for name, expected in faults.require_headers.items():
        if request.headers.get(name) != expected:  # a health probe authenticates too
            return _error(401, f"header {name}: missing or not accepted")
    if faults.down:
        after = faults.retry_after if faults.retry_after is not None else 1
        return _error(
            503,
            f"target {target} is down",
            {"Retry-After": _retry_after_header(after, faults.retry_after_format)},
        )
    return JSONResponse({"status": "ok", "target": target})


def create_app(config: FaultTargetConfig | None = None) -> FastAPI:
    """The fault target as an ASGI app (state in ``app.state.fault_target``)."""
    state = FaultTargetState(config or FaultTargetConfig())
    app = FastAPI(title="O2C Hub fault target", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.fault_target = state

    @app.api_route("/deliver", methods=["POST", "PUT"])
    async def deliver_default(request: Request) -> Response:
        return await _deliver(state, request, DEFAULT_TARGET)

    @app.api_route("/deliver/{target}", methods=["POST", "PUT"])
    async def deliver_named(target: str, request: Request) -> Response:
        return await _deliver(state, request, target)

    @app.get("/_stats")
    async def get_stats(target: str | None = None, detail: bool = True) -> dict[str, Any]:
        return state.stats(target, detail=detail)

    @app.post("/_reset")
    async def reset(keep_faults: bool = False) -> dict[str, Any]:
        state.reset(keep_faults=keep_faults)
        return {"status": "reset", "faults": state.default_faults.model_dump(mode="json")}

    @app.get("/_faults")
    async def get_faults(target: str | None = None) -> dict[str, Any]:
        faults = state.default_faults if target is None else state.faults_for(target)
        return faults.model_dump(mode="json")

    @app.put("/_faults")
    async def put_faults(faults: Faults, target: str | None = None) -> dict[str, Any]:
        if target is None:
            state.default_faults = faults
        else:
            state.target_faults[target] = faults
        return faults.model_dump(mode="json")

    @app.get("/_delivery")
    async def get_delivery(
        key: str = Query(min_length=1), target: str = DEFAULT_TARGET
    ) -> Response:
        st = state.targets.get(target)
        record = None if st is None else st.records.get(key)
        if record is None:
            return _error(404, f"no delivery with key {key!r} at target {target!r}")
        return JSONResponse(
            {
                "reference": record.reference,
                "status_code": record.status_code,
                "payload": record.payload,
                "ordering_key": record.ordering_key,
                "correlation_id": record.correlation_id,
                "message_id": record.message_id,
                "attempts": record.attempts,
                "effects": record.effects,
                "repeats": record.repeats,
            }
        )

    @app.api_route("/healthz", methods=["GET", "HEAD"])
    async def healthz(request: Request) -> Response:
        return _health(state, DEFAULT_TARGET, request)

    @app.api_route("/healthz/{target}", methods=["GET", "HEAD"])
    async def healthz_target(target: str, request: Request) -> Response:
        return _health(state, target, request)

    return app


# --------------------------------------------------------------------------- serving


def serve(config: FaultTargetConfig, sock: socket.socket, *, parent_pid: int | None = None) -> None:
    """Serve the fault target on a listening socket until SIGINT/SIGTERM (or until the
    process's parent changes, when ``parent_pid`` is given)."""
    serve_app(create_app(config), sock, parent_pid=parent_pid, timeout_keep_alive=30, backlog=2048)


def _coerce_faults(faults: Faults | Mapping[str, Any] | None) -> Faults:
    if faults is None:
        return Faults()
    if isinstance(faults, Faults):
        return faults
    return Faults.model_validate(dict(faults))


@contextlib.contextmanager
def run_fault_target(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 0,
    faults: Faults | Mapping[str, Any] | None = None,
    seq_field: str = "seq",
    startup_timeout: float = 30.0,
    stop_timeout: float = 10.0,
) -> Iterator[str]:
    """Run a fault target in a subprocess; yield its base URL (``http://127.0.0.1:PORT``).

    The socket is bound here, before the child starts, so the URL carries the real port
    even for ``port=0``. On exit the child gets SIGTERM (uvicorn shuts down gracefully
    within 2 s) and is killed if it is still there after ``stop_timeout`` seconds.
    """
    config = FaultTargetConfig(seed=seed, seq_field=seq_field, faults=_coerce_faults(faults))
    args = ["--seed", str(config.seed), "--seq-field", config.seq_field]
    args += ["--faults", config.faults.model_dump_json()]
    with run_module(
        "hub.testing.fault_target",
        args,
        host=host,
        port=port,
        ready_path="/_faults",
        what="the fault target",
        startup_timeout=startup_timeout,
        stop_timeout=stop_timeout,
    ) as url:
        yield url


# --------------------------------------------------------------------------- control client


class FaultTargetClient:
    """A small synchronous client for a fault target's control endpoints."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def url(self, target: str | None = None) -> str:
        """The delivery URL of ``target`` (``/deliver`` for the default target)."""
        if target is None:
            return f"{self.base_url}/deliver"
        return f"{self.base_url}/deliver/{quote(target)}"

    def stats(self, target: str | None = None, *, detail: bool = True) -> dict[str, Any]:
        """``GET /_stats``: ``{"targets": {...}, "totals": {...}}``."""
        params: dict[str, str] = {"detail": str(detail).lower()}
        if target is not None:
            params["target"] = target
        response = self._http.get("/_stats", params=params)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def target_stats(self, target: str = DEFAULT_TARGET) -> dict[str, Any]:
        """One target's block of :meth:`stats`."""
        block: dict[str, Any] = self.stats(target)["targets"][target]
        return block

    def faults(self, target: str | None = None) -> Faults:
        params = {} if target is None else {"target": target}
        response = self._http.get("/_faults", params=params)
        response.raise_for_status()
        return Faults.model_validate(response.json())

    def set_faults(
        self,
        faults: Faults | Mapping[str, Any] | None = None,
        *,
        target: str | None = None,
        **fields: Any,
    ) -> Faults:
        """Replace the faults (omitted fields take their defaults): a :class:`Faults`, a
        mapping, or keyword fields. ``target`` sets that target's own faults."""
        base = faults.model_dump() if isinstance(faults, Faults) else dict(faults or {})
        chosen = Faults.model_validate({**base, **fields})
        params = {} if target is None else {"target": target}
        response = self._http.put("/_faults", params=params, json=chosen.model_dump(mode="json"))
        response.raise_for_status()
        return Faults.model_validate(response.json())

    def reset(self, *, keep_faults: bool = False) -> None:
        response = self._http.post("/_reset", params={"keep_faults": str(keep_faults).lower()})
        response.raise_for_status()

    def delivery(self, key: str, target: str = DEFAULT_TARGET) -> dict[str, Any] | None:
        """What the target recorded for an idempotency key, or ``None``."""
        response = self._http.get("/_delivery", params={"key": key, "target": target})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hub.testing.fault_target",
        description="Run the O2C Hub fault target (a loopback HTTP test target).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument("--seq-field", default="seq", help="payload field checked for order")
    parser.add_argument("--faults", default=None, help="faults at start, as JSON")
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        faults = Faults.model_validate_json(args.faults) if args.faults else Faults()
        config = FaultTargetConfig(seed=args.seed, seq_field=args.seq_field, faults=faults)
    except ValidationError as exc:
        parser.error(f"invalid --faults: {exc}")
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        try:
            sock = listen(args.host, args.port)
        except (ValueError, OSError) as exc:
            parser.error(str(exc))
        sys.stderr.write(f"fault target listening on {base_url(sock)}\n")
        sys.stderr.flush()
    serve(config, sock, parent_pid=args.parent_pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
