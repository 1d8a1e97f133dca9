"""OpenID provider throughput of a real `zitui serve` on 127.0.0.1, in one run.

Provisions a data directory with `zitui apply` (a machine user with a secret and a PAT, a user
with a password, a web app and an API app) and starts `python -m zitui serve` on a free port
with the configured argon2 profile. Then, each for a few seconds and `--runs` times:

- client_credentials grants, introspection and userinfo (with the PAT), driven by `wrk`
  (Debian's package; `make bench` installs it), a C load generator that leaves the CPU to the
  server;
- full password logins (authorize → login name → password → callback → token) by concurrent
  lean Python browsers (bench/lean_http.py), each keeping its connection like a browser.

Prints the median rate with its run's p50 and p99, and the raw argon2 hashes/s of the same
profile, measured with the server idle just before and after each run's logins: the ceiling
they are compared with.
Runs the whole set once per `--workers` count (one and two server processes by default).
Usage: python bench/oidc.py [--seconds S] [--concurrency N] [--runs R] [--workers N ...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lean_http import LeanBrowser, Reply  # noqa: E402
from tests.processes import free_port, run, spawn, wait_healthy, zitui_env  # noqa: E402
from zitui.config import load_settings  # noqa: E402
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher  # noqa: E402

PASSWORD = "Bench-Pass-1!"
LOGIN_NAME = "ben@bench.example.com"
LOGIN_NAME_PATH = "/ui/login/loginname"
PASSWORD_PATH = "/ui/login/password"

BLUEPRINT = """
[[orgs]]
name = "Bench"
domain = "bench.example.com"

# The login measured is the password's: no optional second-factor set-up prompt.
[orgs.login_policy]
mfa_init_skip_lifetime = 0

[[orgs.users]]
username = "ben"
email = "ben@bench.example.com"
email_verified = true
first_name = "Ben"
last_name = "Mark"
password = "{password}"

[[orgs.machines]]
username = "bench-ci"
name = "Bench CI"
pat = true
secret = true

[[orgs.projects]]
name = "Bench"

[[orgs.projects.apps]]
name = "web"
type = "web"
auth_method = "basic"
redirect_uris = ["{callback}"]
dev_mode = true

[[orgs.projects.apps]]
name = "api"
type = "api"
auth_method = "basic"
"""


@dataclass
class Result:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    count: int
    errors: int


def median_run(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


async def measure(
    name: str, one: Callable[[], Awaitable[bool]], seconds: float, concurrency: int
) -> Result:
    """Run `one` from `concurrency` workers for `seconds`."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = await one()
            except (OSError, asyncio.IncompleteReadError, RuntimeError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return Result(name, len(latencies) / elapsed, at(0.5), at(0.99), len(latencies), errors)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not found:
        raise RuntimeError(f"wrk printed an unexpected latency {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(
    name: str, url: str, script: str, *, seconds: float, concurrency: int, workdir: Path
) -> Result:
    """One wrk run (one thread, `concurrency` keep-alive connections) of a Lua request."""
    lua = workdir / "request.lua"
    lua.write_text(script)
    done = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency"]
        + ["-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", done).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", done).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", done).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done)
    failed = re.search(r"Socket errors:.*?timeout (\d+)", done)
    errors = (int(bad.group(1)) if bad else 0) + (int(failed.group(1)) if failed else 0)
    return Result(name, rate, p50, p99, count, errors)


def lua_request(method: str, headers: dict[str, str], body: str = "") -> str:
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if body:
        lines.append(f'wrk.body = "{body}"')
    return "\n".join(lines) + "\n"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(html: str, action: str) -> dict[str, str]:
    """The inputs of the form posting to `action` (the hosted login's pages)."""
    for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", html, re.S | re.I):
        found = re.search(r'action="([^"]*)"', match.group(1))
        if not found or unescape(found.group(1)) != action:
            continue
        fields = {}
        for tag in re.finditer(r"<input\b[^>]*>", match.group(2), re.I):
            name = re.search(r'name="([^"]*)"', tag.group(0))
            value = re.search(r'value="([^"]*)"', tag.group(0))
            if name:
                fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
        return fields
    raise RuntimeError(f"no form posting to {action}")


async def follow(browser: LeanBrowser, reply: Reply, stop: str) -> Reply | str:
    """Follow redirects on the server; a redirect to `stop` ends it (its URL is returned)."""
    while reply.status in (302, 303):
        location = reply.header("location")
        if location.startswith(stop):
            return location
        parts = urlsplit(location)
        reply = await browser.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    return reply


async def login_once(browser: LeanBrowser, issuer: str, web: dict[str, Any]) -> dict[str, Any]:
    """One full sign-in in a fresh browser session; the token response."""
    browser.cookies.clear()
    callback = f"{issuer}/cb"
    params = {
        "client_id": web["client_id"],
        "redirect_uri": callback,
        "response_type": "code",
        "scope": "openid profile email",
        "state": "bench-state",
        "nonce": "bench-nonce",
    }
    page = await follow(browser, await browser.get("/oauth/v2/authorize", params), callback)
    assert isinstance(page, Reply)
    fields = form(page.text, LOGIN_NAME_PATH)
    page = await browser.post(LOGIN_NAME_PATH, {**fields, "login_name": LOGIN_NAME})
    fields = form(page.text, PASSWORD_PATH)
    reply = await browser.post(PASSWORD_PATH, {**fields, "password": PASSWORD})
    location = await follow(browser, reply, callback)
    if not isinstance(location, str):
        raise RuntimeError(f"the login did not return to the app (HTTP {location.status})")
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = await browser.post(
        "/oauth/v2/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": callback},
        auth=(web["client_id"], web["client_secret"]),
    )
    if token.status != 200:
        raise RuntimeError(f"the code exchange failed: {token.text}")
    found: dict[str, Any] = json.loads(token.body)
    return found


async def bench(
    issuer: str, creds: dict[str, Any], *, seconds: float, concurrency: int, runs: int
) -> None:
    machine = creds["Bench/bench-ci"]
    web = creds["Bench/Bench/web"]
    api = creds["Bench/Bench/api"]
    browsers = [LeanBrowser(issuer) for _ in range(concurrency)]
    # A user's token from the web app: its project is in the audience the API app checks.
    access_token = (await login_once(browsers[0], issuer, web))["access_token"]
    probe = browsers[0]
    introspected = await probe.post(
        "/oauth/v2/introspect",
        {"token": access_token},
        auth=(api["client_id"], api["client_secret"]),
    )
    if json.loads(introspected.body).get("active") is not True:
        raise RuntimeError("introspection does not find the login's token active")

    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    grants = lua_request(
        "POST",
        form_type | {"Authorization": basic(machine["client_id"], machine["client_secret"])},
        "grant_type=client_credentials&scope=openid%20profile",
    )
    introspection = lua_request(
        "POST",
        form_type | {"Authorization": basic(api["client_id"], api["client_secret"])},
        f"token={access_token}",
    )
    userinfo = lua_request("GET", {"Authorization": f"Bearer {machine['pat']}"})
    pool: asyncio.Queue[LeanBrowser] = asyncio.Queue()
    for browser in browsers:
        pool.put_nowait(browser)

    async def login() -> bool:
        browser = await pool.get()
        try:
            await login_once(browser, issuer, web)
            return True
        finally:
            pool.put_nowait(browser)

    settings = load_settings()
    profile = Argon2Profile(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    hasher = PasswordHasher(profile, max_concurrency=settings.hash_slots)

    async def argon2_rate() -> float:
        """Hashes/s of the profile with every slot busy, the server idle: the ceiling."""
        batch = 4 * settings.hash_slots
        start = time.perf_counter()
        await asyncio.gather(*(hasher.hash(PASSWORD) for _ in range(batch)))
        return batch / (time.perf_counter() - start)

    table: dict[str, list[Result]] = {}
    ceilings: list[float] = []
    shares: list[float] = []
    with tempfile.TemporaryDirectory(prefix="zitui-bench-wrk-") as tmp:
        for _ in range(runs):
            for name, path, script in (
                ("client_credentials grant", "/oauth/v2/token", grants),
                ("introspection", "/oauth/v2/introspect", introspection),
                ("userinfo (PAT)", "/oidc/v1/userinfo", userinfo),
            ):
                result = wrk(
                    name,
                    issuer + path,
                    script,
                    seconds=seconds,
                    concurrency=concurrency,
                    workdir=Path(tmp),
                )
                table.setdefault(name, []).append(result)
            # The ceiling is measured right before and after the logins it is compared with:
            # the speed of a shared machine drifts within a minute.
            before = await argon2_rate()
            logins = await measure("password login (full)", login, seconds, concurrency)
            ceiling = statistics.mean([before, await argon2_rate()])
            table.setdefault(logins.name, []).append(logins)
            ceilings.append(ceiling)
            shares.append(logins.rate / ceiling)
    for browser in browsers:
        await browser.close()

    print(
        f"zitui serve on {issuer}; argon2id m={profile.memory_kib} KiB t={profile.time_cost} "
        f"p={profile.parallelism}, {settings.hash_slots} hash slots; {concurrency} concurrent "
        f"clients; median of {runs} runs of {seconds:g} s per measure"
    )
    print(f"{'measure':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'count':>8}{'errors':>8}")
    for name, results in table.items():
        r = median_run(results)
        print(
            f"{name:<28}{r.rate:>10.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}"
            f"{r.count:>8}{sum(x.errors for x in results):>8}"
        )
    print(f"{'argon2 hashes (ceiling)':<28}{statistics.median(ceilings):>10.1f}")
    print(
        f"logins are {100 * statistics.median(shares):.1f}% of the argon2 ceiling (median of "
        f"the runs, each against the ceiling measured around it: "
        f"{', '.join(f'{100 * share:.0f}%' for share in shares)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="measure `zitui serve --workers N` for each N given (default: 1 2)",
    )
    args = parser.parse_args()
    settings = load_settings()
    profile_env = {
        "ZITUI_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "ZITUI_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        # One user signs in from 16 browsers on one address, which the sign-in throttles and
        # the caps per address would rightly refuse: raised, not turned off, so their
        # bookkeeping is measured as in production.
        "ZITUI_THROTTLE_NAME_ATTEMPTS": "1000000",
        "ZITUI_THROTTLE_IP_ATTEMPTS": "1000000",
        "ZITUI_MAX_OPEN_FLOWS_PER_ADDRESS": "1000000",
        "ZITUI_PENDING_AUTH_REQUESTS_PER_ADDRESS": "1000000",
    }
    with tempfile.TemporaryDirectory(prefix="zitui-bench-oidc-") as tmp:
        base = Path(tmp)
        data, out, blueprint = base / "data", base / "creds.json", base / "bench.toml"
        listen = f"127.0.0.1:{free_port()}"
        issuer = f"http://{listen}"
        blueprint.write_text(BLUEPRINT.format(password=PASSWORD, callback=f"{issuer}/cb"))
        env = zitui_env(data, **profile_env)
        applied = run(["apply", str(blueprint), "--data", str(data), "--out", str(out)], env)
        if applied.returncode != 0:
            sys.exit(f"zitui apply failed: {applied.stderr}")
        creds = json.loads(out.read_text())
        for workers in args.workers:
            serve = ["serve", "--listen", listen, "--workers", str(workers)]
            process = spawn(serve, env, log=base / "serve.log")
            try:
                wait_healthy(issuer, process, timeout=60)
                print(f"\n== zitui serve --workers {workers}")
                asyncio.run(
                    bench(
                        issuer,
                        creds,
                        seconds=args.seconds,
                        concurrency=args.concurrency,
                        runs=args.runs,
                    )
                )
            finally:
                process.terminate()
                process.communicate(timeout=30)


if __name__ == "__main__":
    main()
