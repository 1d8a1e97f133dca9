"""Settings: command-line flags, then `ZITUI_*` variables, then an optional TOML file.

This is the only module that reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from zitui.errors import InvalidArgument

DEFAULT_LISTEN = "localhost:8080"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    listen: str = DEFAULT_LISTEN
    external_url: str = ""
    database_url: str = ""
    masterkey: str = field(default="", repr=False)
    admin_username: str = "admin"
    admin_password: str = field(default="", repr=False)
    instance_name: str = "ZITUI"
    org_name: str = "ZITUI"
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    hash_concurrency: int = 0
    busy_timeout_ms: int = 5000
    log_level: str = "info"
    # One log line per HTTP request. Off by default, as in Keycloak: audit events already
    # record every state change, and a line per token request costs ~8 % of throughput.
    access_log: bool = False
    # `zitui serve` processes sharing the listening socket; 0 means one per CPU.
    workers: int = 1
    # Token lifetimes in seconds, ZITADEL's defaults (`cmd/defaults.yaml` OIDC settings).
    access_token_lifetime_s: int = 12 * 3600
    id_token_lifetime_s: int = 12 * 3600
    refresh_token_idle_lifetime_s: int = 720 * 3600
    refresh_token_absolute_lifetime_s: int = 2160 * 3600
    auth_code_lifetime_s: int = 10 * 60
    # How long a signing key signs before its successor, published one period ahead, takes over.
    signing_key_rotation_s: int = 6 * 3600
    # A browser session unused this long is signed out; the browser cookie expires with it.
    session_idle_timeout_s: int = 24 * 3600
    # Changes of password, email, phone or factors on the account ask for a sign-in this recent.
    reauth_window_s: int = 10 * 60
    # Login flows an address may have open at once (0: no limit).
    max_open_flows_per_address: int = 100
    # Sign-in throttling (zitui/core/throttle.py): attempts per login name and per client
    # address within the window, then delays doubling from one second; 0 turns one off.
    throttle_name_attempts: int = 10
    throttle_ip_attempts: int = 100
    throttle_window_s: int = 15 * 60
    # Password hashes that may wait for a slot; one more is refused with 503. 0: 8 per slot.
    hash_queue: int = 0
    # Unfinished sign-in requests one client address may hold (an IPv6 address counts by its
    # /64); one more is refused with 429. 0 turns the cap off.
    pending_auth_requests_per_address: int = 100
    # Expired auth requests, login flows, tokens, throttles and used assertions are deleted
    # every `purge_interval_s` seconds, at most `purge_batch_size` rows per transaction.
    purge_interval_s: int = 60
    purge_batch_size: int = 500
    # The notification outbox: every `outbox_interval_s` seconds the sender delivers due
    # messages, `outbox_batch_size` at a time; a failed attempt waits `outbox_retry_s`,
    # doubling up to `outbox_retry_max_s`, and after `outbox_max_attempts` the message fails.
    outbox_interval_s: int = 5
    outbox_batch_size: int = 10
    outbox_retry_s: int = 30
    outbox_retry_max_s: int = 3600
    outbox_max_attempts: int = 10
    # The purge deletes sent messages this many days after delivery, and failed ones this
    # many days after their last attempt; pending messages are never deleted.
    outbox_keep_sent_days: int = 30
    outbox_keep_failed_days: int = 90
    # Automatic backups before a migration (`data/backups/pre-*.db`, SQLite only): how many
    # are kept; 0 turns them off.
    backups_keep: int = 5
    # /metrics (zitui/server/metrics.py) is off the public listener unless a token is set:
    # `metrics_listen` serves it on an address of its own, `metrics_token` on the main listener
    # to `Authorization: Bearer <token>`; with neither, /metrics answers 404.
    metrics_listen: str = ""
    metrics_token: str = field(default="", repr=False)
    # The operator console over SSH (zitui/ssh/): HOST:PORT to listen on (off when empty), and
    # how long a console may sit without input before its connection ends.
    ssh_listen: str = ""
    ssh_idle_timeout_s: int = 900

    @property
    def listen_host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return split_listen(self.listen)[1]

    @property
    def issuer(self) -> str:
        return (self.external_url or f"http://{self.listen}").rstrip("/")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'zitui.db'}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)

    @property
    def metrics_exposed(self) -> bool:
        """Whether a scraper may read /metrics (on its own address or with the token)."""
        return bool(self.metrics_listen or self.metrics_token)

    @property
    def hash_slots(self) -> int:
        return self.hash_concurrency or max(1, os.cpu_count() or 1)

    @property
    def hash_waiters(self) -> int:
        return self.hash_queue or 8 * self.hash_slots


ENV_PREFIX = "ZITUI_"
_FIELDS = {f.name: f for f in fields(Settings)}
ENV_NAMES = {name: ENV_PREFIX + name.upper() for name in _FIELDS} | {"data_dir": "ZITUI_DATA"}


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InvalidArgument(
            "config.listen", f"listen address must be HOST:PORT, not {listen!r}", field="listen"
        )
    return host.strip("[]"), int(port)


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "Path":
            return Path(value)
        if kind == "int":
            return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            "config.type", f"{name} must be a whole number, not {value!r}", field=name
        ) from exc
    if kind == "bool":
        return _boolean(name, value)
    return str(value)


def load_settings(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge the sources; flags that are None were not given."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = (flags or {}).get("config") or environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        values.update(_read_toml(Path(config_file)))
    for name in _FIELDS:
        env_value = environ.get(ENV_NAMES[name])
        if env_value is not None and env_value != "":
            values[name] = env_value
    for name, value in (flags or {}).items():
        if name in _FIELDS and value is not None:
            values[name] = value
    settings = Settings(**{name: _coerce(name, value) for name, value in values.items()})
    split_listen(settings.listen)
    if settings.workers < 0:
        raise InvalidArgument(
            "config.workers", "workers must be 0 (one per CPU) or more", field="workers"
        )
    _check_limits(settings)
    _check_metrics(settings)
    _check_ssh(settings)
    return settings


def _check_ssh(settings: Settings) -> None:
    if not settings.ssh_listen:
        return
    split_listen(settings.ssh_listen)
    if settings.ssh_listen == settings.listen:
        raise InvalidArgument(
            "config.ssh_listen", "ssh_listen must differ from listen", field="ssh_listen"
        )
    if settings.workers != 1:
        raise InvalidArgument(
            "config.ssh_workers",
            "the SSH console runs in a single server process: leave out workers or ssh_listen",
            field="ssh_listen",
        )
    if settings.ssh_idle_timeout_s < 1:
        raise InvalidArgument(
            "config.range", "ssh_idle_timeout_s must be 1 or more", field="ssh_idle_timeout_s"
        )


# A bearer token someone could guess protects nothing.
METRICS_TOKEN_MIN_LENGTH = 16


def _check_metrics(settings: Settings) -> None:
    if settings.metrics_listen:
        split_listen(settings.metrics_listen)
        if settings.metrics_listen == settings.listen:
            raise InvalidArgument(
                "config.metrics_listen",
                "metrics_listen must differ from listen (unset it to serve /metrics there)",
                field="metrics_listen",
            )
    if settings.metrics_token and len(settings.metrics_token) < METRICS_TOKEN_MIN_LENGTH:
        raise InvalidArgument(
            "config.metrics_token",
            f"metrics_token must be at least {METRICS_TOKEN_MIN_LENGTH} characters",
            field="metrics_token",
        )


def _check_limits(settings: Settings) -> None:
    for name in ("hash_queue", "pending_auth_requests_per_address", "backups_keep"):
        if getattr(settings, name) < 0:
            raise InvalidArgument("config.range", f"{name} must be 0 or more", field=name)
    for name in (
        "purge_interval_s",
        "purge_batch_size",
        "outbox_interval_s",
        "outbox_batch_size",
        "outbox_retry_s",
        "outbox_retry_max_s",
        "outbox_max_attempts",
        "outbox_keep_sent_days",
        "outbox_keep_failed_days",
        "reauth_window_s",
    ):
        if getattr(settings, name) < 1:
            raise InvalidArgument("config.range", f"{name} must be 1 or more", field=name)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise InvalidArgument("config.type", f"{name} must be on or off, not {value!r}", field=name)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(
            "config.file", f"cannot read the configuration file {path}: {exc}", field="config"
        ) from exc
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InvalidArgument(
            "config.unknown_key", f"{path}: unknown setting {unknown[0]!r}", field=unknown[0]
        )
    return data
