"""The SSH console's settings: off by default, from the flag or ZITUI_SSH_LISTEN, refused
where it would clash, and its idle timeout."""

from __future__ import annotations

import pytest

from zitui.cli import build_parser
from zitui.config import load_settings
from zitui.errors import InvalidArgument


def test_off_by_default_with_a_fifteen_minute_idle_timeout():
    settings = load_settings({}, environ={})
    assert settings.ssh_listen == "" and settings.ssh_idle_timeout_s == 900


def test_the_flag_and_the_environment_set_it():
    flags = vars(build_parser().parse_args(["serve", "--ssh", "0.0.0.0:2222"]))
    assert load_settings(flags, environ={}).ssh_listen == "0.0.0.0:2222"
    environ = {"ZITUI_SSH_LISTEN": "127.0.0.1:2022", "ZITUI_SSH_IDLE_TIMEOUT_S": "60"}
    settings = load_settings({}, environ=environ)
    assert (settings.ssh_listen, settings.ssh_idle_timeout_s) == ("127.0.0.1:2022", 60)
    started = vars(build_parser().parse_args(["start", "--ssh", "[::1]:2222"]))
    assert load_settings(started, environ={}).ssh_listen == "[::1]:2222"


@pytest.mark.parametrize(
    ("environ", "code"),
    [
        ({"ZITUI_SSH_LISTEN": "2222"}, "config.listen"),
        ({"ZITUI_SSH_LISTEN": "localhost:8080"}, "config.ssh_listen"),
        ({"ZITUI_SSH_LISTEN": "127.0.0.1:2222", "ZITUI_WORKERS": "4"}, "config.ssh_workers"),
        ({"ZITUI_SSH_LISTEN": "127.0.0.1:2222", "ZITUI_SSH_IDLE_TIMEOUT_S": "0"}, "config.range"),
    ],
)
def test_settings_that_cannot_work_are_refused(environ: dict[str, str], code: str):
    with pytest.raises(InvalidArgument) as refused:
        load_settings({}, environ=environ)
    assert refused.value.code == code
