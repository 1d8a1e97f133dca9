"""`zitui serve --ssh` as an operator runs it: a key given in a blueprint, OpenSSH's `ssh`
checking the host key the server made and showed in its log, the console over the session,
and a clean stop; from the source tree and through the binary (dist/zitui)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path

import asyncssh
import pytest

from tests.binary_fixtures import binary_env, built_binary
from tests.processes import free_port, reaped, run, spawn, wait_healthy, zitui_env

SSH = shutil.which("ssh")
WAIT_S = 60.0


def write_key(path: Path) -> asyncssh.SSHKey:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="operator@laptop")
    key.write_private_key(path)
    path.chmod(0o600)
    return key


async def read_until(stream: asyncio.StreamReader, needle: bytes) -> bytes:
    seen = b""
    async with asyncio.timeout(WAIT_S):
        while needle not in seen:
            chunk = await stream.read(65536)
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.skipif(SSH is None, reason="OpenSSH's ssh client is not installed")
@pytest.mark.parametrize("through", ["source", "binary"])
async def test_an_operator_reaches_the_console_with_openssh(tmp_path: Path, through: str) -> None:
    assert SSH is not None
    data = tmp_path / "data"
    http_port, ssh_port = free_port(), free_port()
    binary = built_binary() if through == "binary" else None
    env = zitui_env(data) if binary is None else binary_env(data, tmp_path / "cache")
    key_file = tmp_path / "id_ed25519"
    key = write_key(key_file)
    public_line = bytes(key.export_public_key("openssh")).decode().strip()
    blueprint = tmp_path / "keys.toml"
    blueprint.write_text(
        f"""
[[orgs]]
name = "ZITUI"

[[orgs.users]]
username = "admin"
first_name = "Admin"
last_name = "Istrator"
ssh_keys = ["{public_line}"]
"""
    )
    args = ["serve", "--listen", f"127.0.0.1:{http_port}", "--ssh", f"127.0.0.1:{ssh_port}"]
    with reaped(spawn(args, env, binary)) as server:
        wait_healthy(f"http://127.0.0.1:{http_port}", server)
        applied = run(["apply", str(blueprint)], env, binary)
        assert applied.returncode == 0, applied.stderr
        host_key = (data / "ssh_host_ed25519_key.pub").read_text().split()
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{ssh_port} {host_key[0]} {host_key[1]}\n")

        client = await asyncio.create_subprocess_exec(
            SSH,
            "-F",
            "/dev/null",
            "-tt",
            "-p",
            str(ssh_port),
            "-i",
            str(key_file),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "admin@127.0.0.1",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert client.stdout is not None and client.stdin is not None
        try:
            screen = await read_until(client.stdout, b"Signed in as admin")
            assert b"Signed in as admin" in screen
            client.stdin.write(b"\x0c")  # ctrl+l: sign out, which ends the session
            await client.stdin.drain()
            async with asyncio.timeout(WAIT_S):
                assert await client.wait() == 0
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()

        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=WAIT_S)
    assert server.returncode == 0
    fingerprint = key_fingerprint(data / "ssh_host_ed25519_key.pub")
    assert f"SSH console on 127.0.0.1:{ssh_port}, host key {fingerprint}" in log
    assert (data / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600


def key_fingerprint(path: Path) -> str:
    return str(asyncssh.read_public_key(path).get_fingerprint("sha256"))
