"""API benchmark: ``POST /v1/inbound/magento/order`` with a real Magento order, on loopback.

    python -m bench.api_ingest [--connections 1,16,64] [--seconds 10] [--runs 3]

Needs ``wrk`` (Debian package ``wrk``). Measures, in the same run and under the same
load generator, a trivial FastAPI endpoint answering 202 (the ceiling) and the hub with
authentication, mapping and durable storage on (SQLite ``synchronous=FULL`` and
PostgreSQL ``synchronous_commit=on``), every order distinct (wrk script varies the order
number). Both servers: uvicorn, one process. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.report import write_section
from tests.pg import drop_schemas, pg_schema_url
from tests.pipeline_support import BASE_ORDER

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## API: durable ingest over HTTP"

WRK_SCRIPT = r"""
local counter = 0
local template = [[%s]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  counter = counter + 1
  local number = string.format("W%%d-%%d", math.random(1, 1000000000), counter)
  local body = string.gsub(template, "__NUMBER__", number)
  return wrk.format(nil, nil, nil, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _wrk(url: str, script: Path, connections: int, seconds: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of 2xx answers; non-2xx answers fail the run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers during the run:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rate, ms("50%"), ms("99%")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _hub_env(tmp: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    routes = tmp / "routes.yaml"
    routes.write_text(
        "targets:\n"
        + "".join(
            f"  {t}: {{type: http, url: 'http://127.0.0.1:9/{t}'}}\n" for t in ("erp", "crm", "wms")
        )
        + "routes:\n"
        + "".join(
            f"  - {{name: to-{t}, source: {{system: magento, kind: order}}, target: {t}}}\n"
            for t in ("erp", "crm", "wms")
        ),
        encoding="utf-8",
    )
    env.update(O2C_DATABASE_URL=url, O2C_ROUTES_FILE=str(routes), O2C_LOGGING_LEVEL="WARNING")
    return env


def _key(env: dict[str, str]) -> str:
    subprocess.run(
        [sys.executable, "-c", "from hub.cli.main import entry; entry()", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from hub.cli.main import entry; entry()",
            "apikey",
            "create",
            "--name",
            "bench",
            "--scopes",
            "inbound:magento",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().splitlines()[-1]


def measure(kind: str, connections: list[int], seconds: int, tmp: Path) -> dict[int, tuple]:
    port = _free_port()
    template = json.dumps({**BASE_ORDER, "increment_id": "__NUMBER__"}).replace("]]", "] ]")
    if kind == "trivial":
        env = dict(os.environ)
        proc = _start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.trivial_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env,
            tmp / "trivial.log",
        )
        key = "none"
    else:
        url = f"sqlite:///{tmp / 'hub.db'}" if kind == "sqlite" else pg_schema_url()[0]
        env = _hub_env(tmp, url)
        key = _key(env)
        proc = _start(
            [
                sys.executable,
                "-c",
                "from hub.cli.main import entry; entry()",
                "serve",
                "--no-workers",
                "--port",
                str(port),
            ],
            env,
            tmp / f"{kind}.log",
        )
    script = tmp / f"{kind}.lua"
    script.write_text(WRK_SCRIPT % (template, key), encoding="utf-8")
    try:
        _wait_up(
            f"http://127.0.0.1:{port}/healthz"
            if kind != "trivial"
            else f"http://127.0.0.1:{port}/docs"
        )
        results = {}
        for c in connections:
            results[c] = _wrk(
                f"http://127.0.0.1:{port}/v1/inbound/magento/order", script, c, seconds
            )
        return results
    finally:
        _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    connections = [int(c) for c in args.connections.split(",")]
    runs: dict[str, list[dict[int, tuple]]] = {"trivial": [], "sqlite": [], "postgres": []}
    for _ in range(args.runs):
        for kind, results in runs.items():
            with tempfile.TemporaryDirectory() as tmp:
                results.append(measure(kind, connections, args.seconds, Path(tmp)))
    drop_schemas()
    rows = []
    for c in connections:
        med = {
            k: tuple(statistics.median(r[c][i] for r in v) for i in range(3))
            for k, v in runs.items()
        }
        ceiling = med["trivial"][0]
        for kind in ("trivial", "sqlite", "postgres"):
            rate, p50, p99 = med[kind]
            share = "100 %" if kind == "trivial" else f"{100 * rate / ceiling:.0f} %"
            rows.append(f"| {kind} | {c} | {rate:.0f} | {share} | {p50:.2f} | {p99:.2f} |")
            print(rows[-1], flush=True)
    cmd = (
        f"python -m bench.api_ingest --connections {args.connections} "
        f"--seconds {args.seconds} --runs {args.runs}"
    )
    section = "\n".join(
        [
            SECTION,
            "",
            (
                f"Command: `{cmd}` (wrk -t1 on the same 2 cores; uvicorn, one process each; "
                "every order distinct; API key auth, mapping and durable storage on). Medians "
                f"of {args.runs} runs, {time.strftime('%Y-%m-%d')}."
            ),
            "",
            "| server | connections | 2xx/s | share of trivial | p50 ms | p99 ms |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    write_section(args.write, SECTION, section)


if __name__ == "__main__":
    main()
