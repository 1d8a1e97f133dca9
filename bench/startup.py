"""Start-up time to a healthy /healthz, and resident memory once serving.

Compares `python -m zitui serve` with the one-file binary (when built) in the same run, each
from an empty data directory (first run) and again on the set-up directory. Prints medians.
Usage: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import free_port, spawn, wait_healthy, zitui_env  # noqa: E402


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_start(binary: Path | None, data: Path) -> tuple[float, float]:
    port = free_port()
    start = time.perf_counter()
    process = spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(data), binary=binary)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=60)
        elapsed = time.perf_counter() - start
        # The one-file binary runs as a child of its unpacking bootloader.
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        rss = _rss_mib(int(children[0]) if children else process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    variants: list[tuple[str, Path | None]] = [("python -m zitui", None)]
    if (ROOT / "dist" / "zitui").exists():
        variants.append(("dist/zitui", ROOT / "dist" / "zitui"))
    print(f"{'variant':<18}{'first run s':>14}{'restart s':>12}{'RSS MiB':>10}")
    for name, binary in variants:
        first, again, rss = [], [], []
        for _ in range(runs):
            data = Path(tempfile.mkdtemp()) / "data"
            first.append(one_start(binary, data)[0])
            elapsed, memory = one_start(binary, data)
            again.append(elapsed)
            rss.append(memory)
        print(
            f"{name:<18}{statistics.median(first):>14.3f}{statistics.median(again):>12.3f}"
            f"{statistics.median(rss):>10.1f}"
        )


if __name__ == "__main__":
    main()
