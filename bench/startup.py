"""Start-up time to a healthy /healthz, and resident memory once serving.

Compares `python -m zitui serve` with the built binaries in one invocation, each from an empty
data directory (first run) and again on the set-up directory (restart), taking the variants in
turn within each round so that a busy spell of the machine weighs on all of them. Prints
medians, and the CPU time a restart used up to its first healthy answer (less bent than the
elapsed time when other work shares the machine). The self-extracting dist/zitui is measured
twice: with its build already unpacked in the cache (every start but the first), and with an
empty cache (the first start of a new build, unpacking included). Other builds join with
`--binary LABEL=PATH`, self-extracting ones with an empty cache with `--cold-binary`.
Usage: python bench/startup.py [--runs N] [--binary LABEL=PATH ...] [--cold-binary LABEL=PATH ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import (  # noqa: E402
    children,
    free_port,
    run,
    spawn,
    wait_healthz_on_port,
    zitui_env,
)


@dataclass
class Variant:
    label: str
    binary: Path | None
    cold_cache: bool = False
    cache: Path = Path()
    first: list[float] = field(default_factory=list)
    again: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds the processes and the children they waited for have used (the shell's
    tail and tar count): less bent by other load on the machine than the elapsed time."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def one_start(variant: Variant, data: Path) -> tuple[float, float, float]:
    if variant.cold_cache:
        shutil.rmtree(variant.cache, ignore_errors=True)
    port = free_port()
    env = zitui_env(data, XDG_CACHE_HOME=str(variant.cache))
    start = time.perf_counter()
    process = spawn(["serve", "--listen", f"127.0.0.1:{port}"], env, binary=variant.binary)
    try:
        wait_healthz_on_port(port, process)
        elapsed = time.perf_counter() - start
        # A PyInstaller one-file binary runs the program as a child of its unpacking bootloader.
        serving = children(process.pid) or [process.pid]
        rss = _rss_mib(serving[0])
        cpu = _cpu_s(sorted({process.pid, *serving}))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    return elapsed, rss, cpu


def _size_mb(binary: Path) -> float:
    """The file's size, or the whole folder's for a one-folder build."""
    if not (binary.parent / "_internal").is_dir():
        return binary.stat().st_size / 1e6
    return sum(f.stat().st_size for f in binary.parent.rglob("*") if f.is_file()) / 1e6


def variants(extra: list[str], extra_cold: list[str]) -> list[Variant]:
    found = [Variant("python -m zitui", None)]
    binary, folder = ROOT / "dist" / "zitui", ROOT / "dist" / "zitui.d" / "zitui"
    if binary.exists():
        found.append(Variant("dist/zitui", binary))
        found.append(Variant("dist/zitui, cold", binary, cold_cache=True))
    if folder.exists():
        found.append(Variant("dist/zitui.d", folder))
    for items, cold in ((extra, False), (extra_cold, True)):
        for item in items:
            label, _, path = item.partition("=")
            found.append(Variant(label, Path(path).resolve(), cold_cache=cold))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    parser.add_argument(
        "--cold-binary",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a self-extracting build, measured with an empty cache",
    )
    args = parser.parse_args()
    measured = variants(args.binary, args.cold_binary)
    with tempfile.TemporaryDirectory() as scratch:
        for index, variant in enumerate(measured):
            variant.cache = Path(scratch) / f"cache-{index}"
            if variant.binary and not variant.cold_cache:
                run(
                    ["--version"],
                    zitui_env(Path(scratch), XDG_CACHE_HOME=str(variant.cache)),
                    binary=variant.binary,
                )
        for round_ in range(args.runs):
            for index, variant in enumerate(measured):
                data = Path(scratch) / f"{round_}-{index}" / "data"
                variant.first.append(one_start(variant, data)[0])
                elapsed, memory, cpu = one_start(variant, data)
                variant.again.append(elapsed)
                variant.rss.append(memory)
                variant.cpu.append(cpu)
    print(
        f"{'variant':<22}{'first run s':>12}{'restart s':>12}{'restart CPU s':>15}"
        f"{'RSS MiB':>10}{'size MB':>10}"
    )
    for variant in measured:
        size = _size_mb(variant.binary) if variant.binary else float("nan")
        print(
            f"{variant.label:<22}{statistics.median(variant.first):>12.3f}"
            f"{statistics.median(variant.again):>12.3f}{statistics.median(variant.cpu):>15.3f}"
            f"{statistics.median(variant.rss):>10.1f}{size:>10.1f}"
        )


if __name__ == "__main__":
    main()
