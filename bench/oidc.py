"""OpenID provider throughput of a real `zitui serve` on 127.0.0.1, in one run.

Provisions a data directory with `zitui apply` (a machine user with a secret and a PAT, a user
with a password, a web app and an API app), starts `python -m zitui serve` on a free port with the
configured argon2 profile, and measures with an async httpx2 client, each for a few seconds:
client_credentials grants, userinfo with the PAT, introspection, and full password logins
(authorize → login name → password → callback → token). Prints rate, p50 and p99 per measure,
and the raw argon2 hashes/s of the same profile as the ceiling for logins.
Usage: python bench/oidc.py [--seconds S] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import free_port, run, spawn, wait_healthy, zitui_env  # noqa: E402
from zitui.config import load_settings  # noqa: E402
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher  # noqa: E402

PASSWORD = "Bench-Pass-1!"
LOGIN_NAME = "ben@bench.example.com"
MAX_REQUESTS = 20_000
LOGIN_NAME_PATH = "/ui/login/loginname"
PASSWORD_PATH = "/ui/login/password"

BLUEPRINT = """
[[orgs]]
name = "Bench"
domain = "bench.example.com"

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


class Result:
    def __init__(self, name: str, latencies: list[float], errors: int, elapsed: float) -> None:
        self.name, self.latencies, self.errors, self.elapsed = name, latencies, errors, elapsed

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(
    name: str, one: Callable[[], Awaitable[bool]], seconds: float, concurrency: int
) -> Result:
    """Run `one` from `concurrency` workers for `seconds` (at most MAX_REQUESTS calls)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    budget = [MAX_REQUESTS]

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            start = time.perf_counter()
            try:
                ok = await one()
            except httpx2.HTTPError:  # a timeout or a refused connection counts as an error
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, latencies, errors, time.perf_counter() - start)


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


async def follow(browser: httpx2.AsyncClient, response: httpx2.Response, stop: str) -> Any:
    while response.status_code in (302, 303):
        location = response.headers["location"]
        if location.startswith(stop):
            return location
        response = await browser.get(location)
    return response


async def bench(issuer: str, creds: dict[str, Any], seconds: float, concurrency: int) -> None:
    machine = creds["Bench/bench-ci"]
    web = creds["Bench/Bench/web"]
    api = creds["Bench/Bench/api"]
    callback = f"{issuer}/cb"
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=issuer, limits=limits, timeout=5) as http:
        machine_auth = (machine["client_id"], machine["client_secret"])
        grant = {"grant_type": "client_credentials", "scope": "openid profile"}
        first = await http.post("/oauth/v2/token", data=grant, auth=machine_auth)
        first.raise_for_status()

        async def client_credentials() -> bool:
            response = await http.post("/oauth/v2/token", data=grant, auth=machine_auth)
            return response.status_code == 200

        pat_header = {"authorization": f"Bearer {machine['pat']}"}

        async def userinfo() -> bool:
            response = await http.get("/oidc/v1/userinfo", headers=pat_header)
            return response.status_code == 200

        api_auth = (api["client_id"], api["client_secret"])

        async def introspect() -> bool:
            response = await http.post(
                "/oauth/v2/introspect", data={"token": access_token}, auth=api_auth
            )
            return response.status_code == 200 and response.json().get("active") is True

        web_auth = (web["client_id"], web["client_secret"])

        async def login_tokens() -> dict[str, Any] | None:
            params = {
                "client_id": web["client_id"],
                "redirect_uri": callback,
                "response_type": "code",
                "scope": "openid profile email",
                "state": "bench-state",
                "nonce": "bench-nonce",
            }
            async with httpx2.AsyncClient(base_url=issuer, timeout=5) as browser:
                page = await follow(
                    browser, await browser.get("/oauth/v2/authorize", params=params), callback
                )
                fields = form(page.text, LOGIN_NAME_PATH)
                page = await browser.post(
                    LOGIN_NAME_PATH, data={**fields, "login_name": LOGIN_NAME}
                )
                fields = form(page.text, PASSWORD_PATH)
                response = await browser.post(PASSWORD_PATH, data={**fields, "password": PASSWORD})
                location = await follow(browser, response, callback)
                if not isinstance(location, str):
                    return None
                code = parse_qs(urlsplit(location).query)["code"][0]
                token = await http.post(
                    "/oauth/v2/token",
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": callback,
                    },
                    auth=web_auth,
                )
                if token.status_code != 200 or "id_token" not in token.json():
                    return None
                found: dict[str, Any] = token.json()
                return found

        async def login() -> bool:
            return await login_tokens() is not None

        # A user's token from the web app: its project is in the audience the API app checks.
        signed_in = await login_tokens()
        if signed_in is None:
            raise RuntimeError("the first password login failed")
        access_token = signed_in["access_token"]

        for check in (client_credentials, userinfo, introspect, login):
            if not await check():
                raise RuntimeError(f"{check.__name__} failed before measuring")

        results = [
            await measure("client_credentials grant", client_credentials, seconds, concurrency),
            await measure("introspection", introspect, seconds, concurrency),
            await measure("password login (full)", login, seconds, concurrency),
            await measure("userinfo (PAT)", userinfo, seconds, concurrency),
        ]

    settings = load_settings()
    profile = Argon2Profile(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    hasher = PasswordHasher(profile, max_concurrency=settings.hash_slots)
    hashes = []
    for _ in range(3):
        start = time.perf_counter()
        await asyncio.gather(*(hasher.hash(PASSWORD) for _ in range(4 * settings.hash_slots)))
        hashes.append(4 * settings.hash_slots / (time.perf_counter() - start))
    ceiling = statistics.median(hashes)

    print(
        f"zitui serve on {issuer}; argon2id m={profile.memory_kib} KiB t={profile.time_cost} "
        f"p={profile.parallelism}, {settings.hash_slots} hash slots; "
        f"{concurrency} concurrent clients, {seconds:g} s per measure"
    )
    print(f"{'measure':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'count':>8}{'errors':>8}")
    for r in results:
        print(
            f"{r.name:<28}{r.rate:>10.1f}{r.percentile(0.5):>10.2f}{r.percentile(0.99):>10.2f}"
            f"{len(r.latencies):>8}{r.errors:>8}"
        )
    print(f"{'argon2 hashes (ceiling)':<28}{ceiling:>10.1f}")
    print(f"logins are {100 * results[2].rate / ceiling:.1f}% of the argon2 ceiling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    settings = load_settings()
    profile_env = {
        "ZITUI_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "ZITUI_ARGON2_TIME_COST": str(settings.argon2_time_cost),
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
        process = spawn(["serve", "--listen", listen], env, log=base / "serve.log")
        try:
            wait_healthy(issuer, process, timeout=60)
            creds = json.loads(out.read_text())
            asyncio.run(bench(issuer, creds, args.seconds, args.concurrency))
        finally:
            process.terminate()
            process.communicate(timeout=15)


if __name__ == "__main__":
    main()
