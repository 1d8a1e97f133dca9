"""The operator console over SSH, driven by asyncssh as the client against a real server on
127.0.0.1: key and password + TOTP sign-in reach the console's home screen, a wrong password
is counted, a non-manager is refused, two operators at once see what their roles allow, an
idle connection ends, and a window change reaches the console."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import asyncssh
import pyotp
import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.self_service import events_of
from zitui.core.services import Services, open_services
from zitui.core.users import NewHumanUser
from zitui.records import Scope, User
from zitui.ssh.host_key import host_key_fingerprint, host_key_path
from zitui.ssh.server import SshConsole, start_ssh_console

WAIT_S = 30.0
SIZE = (100, 30)


@dataclass(frozen=True)
class Instance:
    services: Services
    console: SshConsole
    admin: User
    admin_key: asyncssh.SSHKey

    @property
    def port(self) -> int:
        return self.console.port


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519", comment="operator")


def line_of(key: asyncssh.SSHKey) -> str:
    return bytes(key.export_public_key("openssh")).decode().strip()


async def open_instance(
    data_dir: Path, *, idle_timeout_s: int = 900, **settings_overrides: object
) -> Instance:
    settings = replace(
        make_settings(data_dir, **settings_overrides),
        ssh_listen="127.0.0.1:0",
        ssh_idle_timeout_s=idle_timeout_s,
    )
    services, _ = await open_services(settings)
    system = services.system_context()
    admin = await services.users.find_user_by_username(
        system, (await services.instance.get_instance(system)).default_org_id, "admin"
    )
    assert admin is not None
    key = new_key()
    await services.ssh_keys.add_key(system, admin.id, line_of(key))
    console = await start_ssh_console(settings, services)
    return Instance(services, console, admin, key)


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    opened = await open_instance(tmp_path / "data")
    try:
        yield opened
    finally:
        await opened.console.close()
        await opened.services.close()


async def connect(
    instance: Instance, username: str, **options: object
) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1",
        instance.port,
        username=username,
        known_hosts=None,
        agent_path=None,
        config=[],
        **options,  # type: ignore[arg-type]
    )


async def open_console(
    conn: asyncssh.SSHClientConnection,
    size: tuple[int, int] = SIZE,
    env: dict[str, str] | None = None,
) -> asyncssh.SSHClientProcess[bytes]:
    return await conn.create_process(
        term_type="xterm-256color", term_size=size, encoding=None, env=env or {}
    )


async def read_until(process: asyncssh.SSHClientProcess[bytes], *needles: bytes) -> bytes:
    """The console's output up to the first point where every needle has appeared."""
    seen = b""
    async with asyncio.timeout(WAIT_S):
        while not all(n in seen for n in needles):
            chunk = await process.stdout.read(65536)
            if not chunk:
                break
            seen += chunk
    return seen


async def read_to_end(process: asyncssh.SSHClientProcess[bytes]) -> bytes:
    async with asyncio.timeout(WAIT_S):
        return await process.stdout.read()


class Answers(asyncssh.SSHClient):
    """Answers the keyboard-interactive prompts: the password, then the code."""

    def __init__(self, password: str, code: str = "") -> None:
        self.answers = {"Password: ": password, "Code: ": code}
        self.prompts: list[str] = []
        self.banners: list[str] = []

    def auth_banner_received(self, msg: str, lang: str) -> None:
        self.banners.append(msg)

    def kbdint_auth_requested(self) -> str:
        return ""

    def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Sequence[tuple[str, bool]]
    ) -> list[str] | None:
        asked = [prompt for prompt, _ in prompts]
        if set(asked) & set(self.prompts):
            return None  # asked again: the answer was wrong; give up as a person would
        self.prompts += asked
        return [self.answers[prompt] for prompt in asked]


async def add_operator(
    instance: Instance, username: str, org_name: str, roles: list[str]
) -> tuple[User, asyncssh.SSHKey]:
    services = instance.services
    system = services.system_context()
    org = await services.orgs.create_org(system, org_name)
    user = await services.users.create_human_user(
        system, org.id, NewHumanUser(username, username.title(), "Example", password="Oper-Pass-1!")
    )
    if roles:
        await services.memberships.add_member(system, user.id, Scope.ORG, org.id, roles)
    key = new_key()
    await services.ssh_keys.add_key(system, user.id, line_of(key))
    return user, key


async def test_a_key_sign_in_reaches_the_home_screen(instance: Instance, tmp_path: Path) -> None:
    services = instance.services
    conn = await connect(instance, "admin", client_keys=[instance.admin_key])
    async with conn:
        process = await open_console(conn)
        host_key = f"host key {instance.console.fingerprint}".encode()
        screen = await read_until(
            process, b"Signed in as admin", b"IAM_OWNER on the instance", host_key
        )
        assert b"\x1b[?1049h" in screen  # the console took the whole terminal
        assert b"\x1b[?1006h" in screen  # and asked for the mouse (SGR reports)
        assert re.search(rb"\x1b\[[0-9;]*38;5;[0-9]+", screen)  # in TERM's 256 colours
        process.stdin.write(b"\x0c")  # ctrl+l: sign out, which ends the console over SSH
        await read_to_end(process)
        assert process.exit_status == 0
    [signed_in] = await events_of(services, "user.human.ssh_key.check.succeeded", instance.admin.id)
    assert signed_in.payload["fingerprint"] == instance.admin_key.get_fingerprint("sha256")
    assert signed_in.payload["origin"] == "ssh"
    assert host_key_path(tmp_path / "data").stat().st_mode & 0o777 == 0o600
    assert host_key_fingerprint(tmp_path / "data") == instance.console.fingerprint
    await instance.console.settle()
    [ended] = await events_of(services, "user.human.console.ended", instance.admin.id)
    assert ended.payload["reason"] == "closed"


async def test_an_unknown_key_or_a_key_under_another_name_gets_no_console(
    instance: Instance,
) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(instance, "admin", client_keys=[new_key()], kbdint_auth=False)
    _, olga_key = await add_operator(instance, "olga", "Acme", ["ORG_OWNER"])
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(instance, "admin", client_keys=[olga_key], kbdint_auth=False)
    await instance.console.settle()
    failed = await events_of(
        instance.services, "user.human.ssh_key.check.failed", instance.admin.id
    )
    assert [e.payload["refused"] for e in failed] == ["not_registered", "not_registered"]
    assert olga_key.get_fingerprint("sha256") in {e.payload["fingerprints"] for e in failed}


async def test_password_and_totp_sign_in(instance: Instance) -> None:
    services, admin = instance.services, instance.admin
    system = services.system_context()
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, system, admin, issuer="zitui")
    totp = pyotp.TOTP(setup.secret)
    async with services.store.transaction() as tx:
        previous = totp.at(services.clock.now().timestamp() - 30)
        assert await services.factors.confirm_totp(tx, system, admin, setup.factor_id, previous)

    client = Answers(ADMIN_PASSWORD, totp.now())
    conn, _ = await asyncssh.create_connection(
        lambda: client,
        "127.0.0.1",
        instance.port,
        username="admin",
        known_hosts=None,
        agent_path=None,
        client_keys=None,
        config=[],
    )
    async with conn:
        assert client.prompts == ["Password: ", "Code: "]
        process = await open_console(conn)
        await read_until(process, b"Signed in as admin")
    assert await events_of(services, "user.human.mfa.otp.check.succeeded", admin.id)
    assert await events_of(services, "user.human.password.check.succeeded", admin.id)


async def test_a_wrong_password_is_counted(instance: Instance) -> None:
    services, admin = instance.services, instance.admin
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.create_connection(
            lambda: Answers("not-the-password"),
            "127.0.0.1",
            instance.port,
            username="admin",
            known_hosts=None,
            agent_path=None,
            client_keys=None,
            config=[],
        )
    failed = await events_of(services, "user.human.password.check.failed", admin.id)
    assert failed and failed[-1].payload["failures"] >= 1


async def test_a_user_without_a_manager_role_is_told_and_disconnected(instance: Instance) -> None:
    services = instance.services
    ann, key = await add_operator(instance, "ann", "Acme", [])
    conn = await connect(instance, "ann", client_keys=[key])
    async with conn:
        process = await open_console(conn)
        said = await read_to_end(process)
    assert b"zitui: only managers may use the operator console" in said
    assert process.exit_status == 1
    assert await events_of(services, "user.human.console.refused", ann.id)


async def test_two_operators_at_once_each_with_their_own_permissions(instance: Instance) -> None:
    olga, olga_key = await add_operator(instance, "olga", "Acme", ["ORG_OWNER"])
    await instance.services.orgs.create_org(instance.services.system_context(), "Globex")
    admin_conn = await connect(instance, "admin", client_keys=[instance.admin_key])
    olga_conn = await connect(instance, olga.login_name, client_keys=[olga_key])
    async with admin_conn, olga_conn:
        admin_console, olga_console = await asyncio.gather(
            open_console(admin_conn), open_console(olga_conn)
        )
        admin_screen, olga_screen = await asyncio.gather(
            read_until(admin_console, b"Signed in as admin", "Organisations 1–3 of 3".encode()),
            read_until(
                olga_console,
                b"Signed in as olga",
                b"ORG_OWNER on organisation Acme",
                "Organisations 1–1 of 1".encode(),
            ),
        )
    assert b"Globex" in admin_screen and b"Acme" in admin_screen
    assert b"Acme" in olga_screen and b"Globex" not in olga_screen


async def test_an_idle_connection_ends(tmp_path: Path) -> None:
    instance = await open_instance(tmp_path / "data", idle_timeout_s=3)
    try:
        conn = await connect(instance, "admin", client_keys=[instance.admin_key])
        async with conn:
            process = await open_console(conn)
            said = await read_to_end(process)  # no key pressed: the timeout ends it
        assert b"Signed in as admin" in said
        assert said.endswith(b"zitui: no input for too long; the connection ends\r\n")
        assert process.exit_status != 0
        await instance.console.settle()
        [ended] = await events_of(instance.services, "user.human.console.ended", instance.admin.id)
        assert ended.payload["reason"] == "idle"
    finally:
        await instance.console.close()
        await instance.services.close()


async def test_true_colour_when_the_client_sends_colorterm(instance: Instance) -> None:
    conn = await connect(instance, "admin", client_keys=[instance.admin_key])
    async with conn:
        process = await open_console(conn, env={"COLORTERM": "truecolor"})
        screen = await read_until(process, b"Signed in as admin")
    assert re.search(rb"\x1b\[[0-9;]*38;2;[0-9]+;[0-9]+;[0-9]+", screen)


async def test_a_window_change_reaches_the_console(instance: Instance) -> None:
    conn = await connect(instance, "admin", client_keys=[instance.admin_key])
    async with conn:
        process = await open_console(conn, size=(100, 30))
        before = await read_until(process, b"Signed in as admin")
        assert not re.search(rb"\x1b\[4[0-9];1H", before)
        process.change_terminal_size(120, 45)
        # The console draws its rows again for 45 lines: it moves the cursor below row 40.
        after = await read_until_match(process, rb"\x1b\[4[1-5];1H")
    assert after


async def read_until_match(process: asyncssh.SSHClientProcess[bytes], pattern: bytes) -> bytes:
    seen = b""
    async with asyncio.timeout(WAIT_S):
        while not re.search(pattern, seen):
            chunk = await process.stdout.read(65536)
            if not chunk:
                break
            seen += chunk
    return seen


async def test_a_user_without_a_manager_role_is_refused_after_the_password(
    instance: Instance,
) -> None:
    ann, _ = await add_operator(instance, "ann", "Acme", [])
    conn, _ = await asyncssh.create_connection(
        lambda: Answers("Oper-Pass-1!"),
        "127.0.0.1",
        instance.port,
        username="ann",
        known_hosts=None,
        agent_path=None,
        client_keys=None,
        config=[],
    )
    async with conn:
        process = await open_console(conn)
        said = await read_to_end(process)
    assert said == b"\r\nzitui: only managers may use the operator console\r\n"
    assert process.exit_status == 1
    [refused] = await events_of(instance.services, "user.human.console.refused", ann.id)
    assert refused.payload["method"] == "password"


async def test_password_attempts_share_the_hosted_logins_throttle(tmp_path: Path) -> None:
    instance = await open_instance(tmp_path / "data", throttle_name_attempts=2)
    try:
        clients = [Answers("wrong-password") for _ in range(3)]
        for client in clients:
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.create_connection(
                    lambda client=client: client,
                    "127.0.0.1",
                    instance.port,
                    username="admin",
                    known_hosts=None,
                    agent_path=None,
                    client_keys=None,
                    config=[],
                )
        assert [c.banners for c in clients[:2]] == [[], []]
        [banner] = clients[2].banners
        assert banner.startswith("zitui: ") and "attempts" in banner
        failed = await events_of(
            instance.services, "user.human.password.check.failed", instance.admin.id
        )
        assert len(failed) == 2  # the third was refused before any password check
    finally:
        await instance.console.close()
        await instance.services.close()


async def test_a_dropped_connection_hangs_its_console_up_even_when_hang_ups_were_ignored(
    tmp_path: Path,
) -> None:
    """A server started under `nohup` hands "ignore SIGHUP" down to its children: the console
    sets the default action again, so the hang-up of its closed pty ends it (not the kill
    that follows a grace time)."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    opened = await open_instance(tmp_path / "data")
    try:
        conn = await connect(opened, "admin", client_keys=[opened.admin_key])
        async with conn:
            process = await open_console(conn)
            await read_until(process, b"Signed in as admin")
            [connection] = opened.console.runtime.connections
            [session] = connection.sessions
            child = session.proc
            assert child is not None
        # Popen.wait is safe beside the session's own wait; it gives the same status.
        async with asyncio.timeout(WAIT_S):
            status = await asyncio.to_thread(child.wait)
        assert status == -signal.SIGHUP
    finally:
        signal.signal(signal.SIGHUP, previous)
        await opened.console.close()
        await opened.services.close()
