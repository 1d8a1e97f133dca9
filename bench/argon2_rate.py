"""argon2id hashes per second for the configured profile: the ceiling for password logins.

Runs the hasher as zitui does (off the event loop, one slot per CPU) and prints the median
rate of several rounds, next to a single-thread baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zitui.config import load_settings  # noqa: E402
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher  # noqa: E402

ROUNDS, HASHES = 5, 32


async def rate(hasher: PasswordHasher) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(hasher.hash("Bench-Pass-1") for _ in range(HASHES)))
    return HASHES / (time.perf_counter() - start)


async def main() -> None:
    settings = load_settings()
    profile = Argon2Profile(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    single = PasswordHasher(profile, max_concurrency=1)
    parallel = PasswordHasher(profile, max_concurrency=settings.hash_slots)
    baseline = statistics.median([await rate(single) for _ in range(ROUNDS)])
    measured = statistics.median([await rate(parallel) for _ in range(ROUNDS)])
    print(
        f"profile m={profile.memory_kib} KiB t={profile.time_cost} p={profile.parallelism}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"one slot:   {baseline:8.1f} hashes/s (baseline)")
    print(f"{settings.hash_slots} slots:    {measured:8.1f} hashes/s ({measured / baseline:.2f}x)")


if __name__ == "__main__":
    asyncio.run(main())
