"""Crypto: the master key guards secrets at rest; argon2id hashing is off the loop and even."""

from __future__ import annotations

import asyncio
import hashlib
import stat
from pathlib import Path

import argon2
import pytest

from tests.conftest import make_settings
from tests.dbfile import rows
from zitui.core.crypto import tokens
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher
from zitui.core.crypto.signing import open_signing_key
from zitui.core.services import open_services
from zitui.errors import InvalidArgument, StoreUnavailable, WrongMasterKey
from zitui.records import SigningKey

KEY_A = "a" * 32
KEY_B = "b" * 32


def test_encryption_round_trips_and_is_bound_to_its_purpose():
    key = MasterKey(KEY_A)
    sealed = key.encrypt(b"totp seed", purpose="totp:user1")
    assert b"totp seed" not in sealed.encode()
    assert key.decrypt(sealed, purpose="totp:user1") == b"totp seed"
    with pytest.raises(WrongMasterKey):
        key.decrypt(sealed, purpose="totp:user2")
    with pytest.raises(WrongMasterKey):
        MasterKey(KEY_B).decrypt(sealed, purpose="totp:user1")


def test_short_master_key_is_refused():
    with pytest.raises(InvalidArgument):
        MasterKey("too-short")


async def test_signing_key_is_unreadable_without_the_master_key(tmp_path: Path, clock):
    services, _ = await open_services(make_settings(tmp_path, masterkey=KEY_A), clock=clock)
    await services.close()
    raw = (tmp_path / "zitui.db").read_bytes()
    assert b"PRIVATE KEY" not in raw
    ((kid, enc),) = rows(tmp_path, "SELECT kid, private_key_enc FROM signing_keys")
    stored = SigningKey(
        kid=kid,
        alg="RS256",
        public_jwk={},
        private_key_enc=enc,
        created_at=clock.now(),
        expires_at=clock.now(),
    )
    assert open_signing_key(MasterKey(KEY_A), stored).key.kid == kid
    with pytest.raises(WrongMasterKey):
        open_signing_key(MasterKey(KEY_B), stored)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_wrong_master_key_is_refused_and_touches_nothing(tmp_path: Path, clock):
    services, _ = await open_services(make_settings(tmp_path, masterkey=KEY_A), clock=clock)
    await services.close()
    db = tmp_path / "zitui.db"
    before = _digest(db)
    with pytest.raises(WrongMasterKey) as caught:
        await open_services(make_settings(tmp_path, masterkey=KEY_B), clock=clock)
    assert caught.value.code == "masterkey.wrong"
    assert _digest(db) == before


async def test_generated_master_key_file_is_private_and_required_later(tmp_path: Path, clock):
    services, _ = await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    await services.close()
    key_file = tmp_path / "masterkey"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    services, result = await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    await services.close()
    assert not result.created
    key_file.unlink()
    with pytest.raises(WrongMasterKey) as caught:
        await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    assert caught.value.code == "masterkey.missing"
    assert not key_file.exists()


async def test_default_profile_is_owasp_argon2id():
    hasher = PasswordHasher(Argon2Profile(), max_concurrency=1)
    encoded = await hasher.hash("Secret-1")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(encoded, "Secret-1")
    assert not await hasher.verify(encoded, "Secret-2")
    assert not await hasher.verify("not a hash", "Secret-1")


async def test_hashing_runs_off_the_event_loop():
    hasher = PasswordHasher(Argon2Profile(memory_kib=64 * 1024, time_cost=3), max_concurrency=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    await hasher.hash("Secret-1")
    task.cancel()
    assert ticks >= 5  # the loop kept turning while the hash was computed


async def test_unknown_user_costs_as_much_as_a_wrong_password(monkeypatch):
    """No clock involved: an unknown user's check runs one real argon2 verification against
    a hash made with the same parameters as a real user's, so it costs the same work."""
    hasher = PasswordHasher(Argon2Profile(memory_kib=1024, time_cost=1), max_concurrency=1)
    encoded = await hasher.hash("Secret-1")
    verified: list[str] = []
    real = hasher._verify_sync

    def counting(target: str, password: str) -> bool:
        verified.append(target)
        return real(target, password)

    monkeypatch.setattr(hasher, "_verify_sync", counting)
    assert not await hasher.verify(encoded, "wrong")
    assert not await hasher.verify(None, "wrong")
    assert not await hasher.verify(None, "Secret-1")
    assert len(verified) == 3 and verified[0] == encoded
    dummy = verified[1]
    assert dummy != encoded and verified[2] == dummy
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(encoded)


def test_token_digests_are_sha256_and_compared_in_constant_time():
    token = tokens.random_token()
    assert len(token) >= 43
    assert tokens.digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert tokens.equal(tokens.digest(token), tokens.digest(token))
    assert not tokens.equal(tokens.digest(token), tokens.digest(token + "x"))
    assert tokens.numeric_code(6).isdigit()


def test_generated_passwords_meet_the_default_policy():
    from zitui.core.policies import PasswordComplexityPolicy

    for _ in range(50):
        PasswordComplexityPolicy().check(tokens.generated_password())


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
async def test_a_master_key_file_others_may_read_or_change_is_refused(
    tmp_path: Path, clock, mode: int
):
    services, _ = await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    await services.close()
    key_file, db = tmp_path / "masterkey", tmp_path / "zitui.db"
    key_file.chmod(mode)
    before = _digest(db)
    with pytest.raises(StoreUnavailable) as caught:
        await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    assert caught.value.code == "masterkey.exposed"
    assert caught.value.message.endswith(f"run: chmod 600 {key_file}")
    assert stat.S_IMODE(key_file.stat().st_mode) == mode
    assert _digest(db) == before


async def test_an_exposed_master_key_file_stops_a_first_run_before_it_writes(tmp_path: Path, clock):
    key_file = tmp_path / "masterkey"
    key_file.write_text(KEY_A + "\n")
    key_file.chmod(0o644)
    with pytest.raises(StoreUnavailable) as caught:
        await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    assert caught.value.code == "masterkey.exposed"
    assert not (tmp_path / "zitui.db").exists()


async def test_a_master_key_file_only_its_owner_reads_is_accepted(tmp_path: Path, clock):
    key_file = tmp_path / "masterkey"
    key_file.write_text(KEY_A + "\n")
    key_file.chmod(0o400)
    services, result = await open_services(make_settings(tmp_path, masterkey=""), clock=clock)
    await services.close()
    assert result.created
