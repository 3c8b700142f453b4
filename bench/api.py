"""GET /task/{tid}/ under load while a scan runs, through a real `bqat serve`.

Starts `bqat serve` (Prefect server, worker, API) on free ports with a fresh BQAT_HOME, posts a
scan of generated faces (enough to keep the worker busy throughout). Sends GET /health at a
fixed rate before the scan (the baseline) and during it, then GET /task/{tid}/ at that rate
(200/s for 30 s by default) during the scan. Prints p50/p99 latency and errors of each and the
ratio of the /task p99 to the baseline's. Target: /task p99 < 20 ms with 0 errors.
Run: make bench-api (or .venv/bin/python bench/api.py [--rate N] [--seconds S] [--images N]).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
from scan import write_images

SLOW_S = 0.020
LAG: list[float] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def load(url: str, rate: int, seconds: float) -> tuple[list[tuple[float, float]], int]:
    """Requests started on a fixed schedule (not after the previous answer): open-loop load.

    Returns (start time, latency) per request and the number of errors. How late the generator
    itself starts each request is kept in LAG: a stall of the whole machine delays the client
    too, and shows there.
    """
    latencies: list[tuple[float, float]] = []
    errors = 0
    async with httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=64)) as client:

        async def one() -> None:
            nonlocal errors
            began = time.perf_counter()
            try:
                response = await client.get(url)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((began, time.perf_counter() - began))

        start = time.perf_counter()
        pending = []
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            LAG.append(time.perf_counter() - (start + i / rate))
            pending.append(asyncio.create_task(one()))
        await asyncio.gather(*pending)
    return latencies, errors


def describe(label: str, timed: list[tuple[float, float]], errors: int) -> float:
    """Prints p50/p99 and how the requests over 20 ms bunch in time; returns the p99."""
    ordered = sorted(latency for _, latency in timed)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[int(0.99 * (len(ordered) - 1))] * 1e3
    slow = sorted(start for start, latency in timed if latency > SLOW_S)
    bursts = sum(1 for before, now in zip([-1.0, *slow], slow, strict=False) if now - before > 0.3)
    print(
        f"{label}: {len(ordered)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {errors}; "
        f"{len(slow)} over 20 ms, in {bursts} bursts (starts < 0.3 s apart)"
    )
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--images", type=int, default=6000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "data"
        (data / "faces").mkdir(parents=True)
        write_images(data / "faces", args.images)
        api_port = free_port()
        env = {
            **os.environ,
            "BQAT_HOME": str(Path(work) / "home"),
            "BQAT_DATA_ROOT": str(data),
            "BQAT_PORT": str(api_port),
            "BQAT_PREFECT_PORT": str(free_port()),
        }
        env.pop("PREFECT_API_URL", None)
        env.pop("PREFECT_HOME", None)
        log = Path(work) / "serve.log"  # a file, not a pipe: a full pipe would stall the services
        with open(log, "w") as output:
            serve = subprocess.Popen(
                [str(Path(sys.executable).parent / "bqat"), "serve"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            while "ready; press Ctrl-C" not in log.read_text():
                if serve.poll() is not None:
                    raise SystemExit(f"bqat serve exited:\n{log.read_text()}")
                time.sleep(0.5)
            api = f"http://127.0.0.1:{api_port}"
            idle = asyncio.run(load(f"{api}/health", args.rate, args.seconds / 3))
            request = urllib.request.Request(
                f"{api}/scan/",
                data=json.dumps({"input": "faces", "modality": "face"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as response:
                tid = json.loads(response.read())["tid"]
            while True:  # wait until the worker has picked the run up
                with urllib.request.urlopen(f"{api}/task/{tid}/") as response:
                    task = json.loads(response.read())
                if task["state"] == "RUNNING":
                    break
                time.sleep(0.5)
            busy = asyncio.run(load(f"{api}/health", args.rate, args.seconds / 3))
            polled = asyncio.run(load(f"{api}/task/{tid}/", args.rate, args.seconds))
            with urllib.request.urlopen(f"{api}/task/{tid}/") as response:
                task = json.loads(response.read())
            print(f"scan during the load: {task['state']}, {task['progress']}")
            base = describe(f"baseline GET /health at {args.rate}/s, no scan", *idle)
            describe(f"GET /health at {args.rate}/s during the scan", *busy)
            p99 = describe(f"GET /task/{{tid}}/ at {args.rate}/s during the scan", *polled)
            lag = sorted(LAG)
            print(
                f"the load generator's own lag behind its schedule (all phases): p50 "
                f"{lag[len(lag) // 2] * 1e3:.1f} ms, p99 {lag[int(0.99 * len(lag))] * 1e3:.1f} ms, "
                f"max {lag[-1] * 1e3:.1f} ms"
            )
            print(f"p99 ratio to the baseline: {p99 / base:.1f}x (target: p99 < 20 ms, 0 errors)")
        finally:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()


if __name__ == "__main__":
    main()
