"""Test helpers that ship with the hub: real loopback servers, not mocks.

:mod:`hub.testing.fault_target` is an HTTP delivery target with injectable faults
(errors, slowness, outages, permanent rejections, effects whose answer is lost) that
records what it received, so tests and benchmarks can check effects, idempotency and
per-key order from the outside.
"""
