"""The signed-in user's own second factors through services.account: TOTP, codes by email,
security keys and passkeys (answered by a software authenticator), names, removal, recovery
codes, and the forced-MFA rule for the last factor."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import timedelta
from pathlib import Path

import cbor2
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests import test_core_sessions as session_tests
from tests.account_support import login_policy, own
from tests.conftest import make_settings
from tests.dbfile import rows
from tests.self_service import events_of
from tests.test_core_sessions import add_human
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
ORIGIN = "http://localhost:8080"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An external URL with a host name, so WebAuthn has a relying party."""
    return make_settings(tmp_path / "data", external_url=ORIGIN)


@pytest.fixture
async def bob(services: Services, admin: Context, acme: Organization) -> User:
    return await add_human(services, admin, acme.id, "bob", email="bob@example.com")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def software_key(options_json: str, *, origin: str = ORIGIN, passkey: bool) -> str:
    """A new credential for the options, with "none" attestation, as a browser returns it."""
    options = json.loads(options_json)
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    cose = {
        1: 2,
        3: -7,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }
    credential_id = secrets.token_bytes(16)
    flags = 0x01 | 0x40 | (0x04 if passkey else 0)  # user present, attested data, verified
    auth_data = (
        hashlib.sha256(options["rp"]["id"].encode()).digest()
        + bytes([flags])
        + (0).to_bytes(4, "big")
        + bytes(16)
        + len(credential_id).to_bytes(2, "big")
        + credential_id
        + cbor2.dumps(cose)
    )
    client_data = {"type": "webauthn.create", "challenge": options["challenge"], "origin": origin}
    attestation = {"fmt": "none", "attStmt": {}, "authData": auth_data}
    response = {
        "clientDataJSON": b64(json.dumps(client_data).encode()),
        "attestationObject": b64(cbor2.dumps(attestation)),
        "transports": ["usb"],
    }
    extensions = {"credProps": {"rk": True}} if passkey else {}
    return json.dumps(
        {
            "id": b64(credential_id),
            "rawId": b64(credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": extensions,
        }
    )


async def totp_factor(services: Services, ctx: Context) -> tuple[str, list[str]]:
    setup = await services.account.start_totp(ctx)
    code = pyotp.TOTP(setup.secret).at(services.clock.now())
    return setup.factor_id, await services.account.confirm_totp(ctx, setup.factor_id, code)


async def test_the_first_factor_brings_recovery_codes_the_second_none(
    services: Services, alice: User, acme: Organization
):
    await login_policy(services, acme.id, second_factors=("otp", "u2f", "otp_email"))
    ctx = own(services, alice)
    factor_id, codes = await totp_factor(services, ctx)
    assert len(codes) == 10
    assert await events_of(services, "user.human.mfa.otp.added", alice.id)
    with pytest.raises(PreconditionFailed) as twice:
        await services.account.start_totp(ctx)
    assert twice.value.code == "factor.already_exists"

    assert await services.account.add_otp(ctx, "otp_email") == []
    me = await services.account.me(ctx)
    assert {f.kind.value for f in me.factors} == {"totp", "otp_email"}
    assert me.recovery_codes_left == 10
    assert "totp" not in me.addable_kinds and "otp_email" not in me.addable_kinds
    with pytest.raises(InvalidArgument) as unknown:
        await services.account.add_otp(ctx, "carrier-pigeon")
    assert (unknown.value.code, unknown.value.field) == ("factor.kind.invalid", "kind")


async def test_a_wrong_totp_code_is_refused_and_counted(services: Services, alice: User):
    ctx = own(services, alice)
    setup = await services.account.start_totp(ctx)
    right = pyotp.TOTP(setup.secret).at(services.clock.now())
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    with pytest.raises(InvalidArgument) as refused:
        await services.account.confirm_totp(ctx, setup.factor_id, wrong)
    assert refused.value.code == "mfa.code_invalid"
    count = "SELECT failed_code_attempts FROM users WHERE id = ?"
    assert rows(services.settings.data_dir, count, alice.id) == [(1,)]
    assert len(await services.account.confirm_totp(ctx, setup.factor_id, right, "Phone")) == 10


async def test_a_kind_the_policy_does_not_offer_is_refused(services: Services, alice: User):
    with pytest.raises(InvalidArgument) as refused:
        await services.account.add_otp(own(services, alice), "otp_email")  # not in the policy
    assert refused.value.code == "mfa.kind_not_offered"


async def test_a_security_key_and_a_passkey_register_once_each_start(
    services: Services, alice: User, clock: FixedClock
):
    ctx = own(services, alice)
    started = await services.account.start_key_registration(ctx, passkey=False)
    options = json.loads(started.options_json)
    assert options["rp"]["id"] == "localhost"
    stored = rows(services.settings.data_dir, "SELECT purpose, target, digest FROM user_codes")
    # The kind and the registration's id (no secret: a finish that names none, as ZITADEL's
    # verify does, finds it), never the challenge.
    assert [(p, t) for p, t, _ in stored] == [("webauthn", f"u2f:{started.id}")]
    assert options["challenge"] not in str(stored)

    answer = software_key(started.options_json, passkey=False)
    codes = await services.account.finish_key_registration(ctx, started.id, answer, "YubiKey")
    assert len(codes) == 10
    with pytest.raises(NotFound) as spent:
        await services.account.finish_key_registration(ctx, started.id, answer)
    assert spent.value.code == "webauthn.registration_not_found"

    passkey = await services.account.start_key_registration(ctx, passkey=True)
    answer = software_key(passkey.options_json, passkey=True)
    assert await services.account.finish_key_registration(ctx, passkey.id, answer) == []
    me = await services.account.me(ctx)
    assert sorted((f.kind.value, f.name) for f in me.factors) == [
        ("passkey", "Passkey"),
        ("u2f", "YubiKey"),
    ]

    late = await services.account.start_key_registration(ctx, passkey=False)
    clock.advance(timedelta(minutes=5, seconds=1))
    with pytest.raises(NotFound):
        await services.account.finish_key_registration(
            own(services, alice), late.id, software_key(late.options_json, passkey=False)
        )


async def test_a_refused_key_answer_spends_the_registration(services: Services, alice: User):
    ctx = own(services, alice)
    started = await services.account.start_key_registration(ctx, passkey=False)
    forged = software_key(started.options_json, origin="https://evil.example", passkey=False)
    with pytest.raises(InvalidArgument):
        await services.account.finish_key_registration(ctx, started.id, forged)
    good = software_key(started.options_json, passkey=False)
    with pytest.raises(NotFound):
        await services.account.finish_key_registration(ctx, started.id, good)
    assert (await services.account.me(ctx)).factors == ()


async def test_another_users_registration_id_is_unknown(services: Services, alice: User, bob: User):
    started = await services.account.start_key_registration(own(services, alice), passkey=False)
    answer = software_key(started.options_json, passkey=False)
    with pytest.raises(NotFound):
        await services.account.finish_key_registration(own(services, bob), started.id, answer)


async def test_rename_and_remove_touch_only_ones_own_factors(
    services: Services, alice: User, bob: User
):
    mine = own(services, alice)
    factor_id, _ = await totp_factor(services, mine)
    await services.account.rename_factor(mine, factor_id, "  Work phone  ")
    [factor] = (await services.account.me(mine)).factors
    assert factor.name == "Work phone"
    assert await events_of(services, "user.human.factor.renamed", alice.id)
    for bad in ("", "x" * 201):
        with pytest.raises(InvalidArgument) as refused:
            await services.account.rename_factor(mine, factor_id, bad)
        assert refused.value.field == "name"

    theirs = own(services, bob)
    with pytest.raises(NotFound):
        await services.account.rename_factor(theirs, factor_id, "Mine now")
    with pytest.raises(NotFound):
        await services.account.remove_factor(theirs, factor_id)

    await services.account.remove_factor(mine, factor_id)
    me = await services.account.me(mine)
    assert (me.factors, me.recovery_codes_left) == ((), 0)
    assert await events_of(services, "user.human.mfa.otp.removed", alice.id)
    assert await events_of(services, "user.human.recovery_codes.removed", alice.id)


async def test_the_last_factor_stays_while_mfa_is_forced(
    services: Services, alice: User, acme: Organization
):
    await login_policy(services, acme.id, force_mfa=True, second_factors=("otp", "otp_email"))
    ctx = own(services, alice)
    assert (await services.account.me(ctx)).mfa_forced
    totp_id, _ = await totp_factor(services, ctx)
    with pytest.raises(PreconditionFailed) as refused:
        await services.account.remove_factor(ctx, totp_id)
    assert refused.value.code == "mfa.last_factor_forced"
    await services.account.add_otp(ctx, "otp_email")
    await services.account.remove_factor(ctx, totp_id)
    assert [f.kind.value for f in (await services.account.me(ctx)).factors] == ["otp_email"]


async def test_recovery_codes_regenerate_only_with_a_factor(services: Services, alice: User):
    ctx = own(services, alice)
    with pytest.raises(PreconditionFailed) as none:
        await services.account.regenerate_recovery_codes(ctx)
    assert none.value.code == "mfa.no_factor"
    _, first = await totp_factor(services, ctx)
    again = await services.account.regenerate_recovery_codes(ctx)
    assert len(again) == 10 and not set(again) & set(first)
    assert len(await events_of(services, "user.human.recovery_codes.generated", alice.id)) == 2


async def test_a_finish_naming_no_registration_takes_the_pending_one_of_its_kind(
    services: Services, alice: User
):
    """ZITADEL's verify calls send only the answer: "" is the user's pending registration,
    and a security-key finish never completes a passkey registration."""
    ctx = own(services, alice)
    passkey = await services.account.start_key_registration(ctx, passkey=True)
    answer = software_key(passkey.options_json, passkey=True)
    with pytest.raises(NotFound):
        await services.account.finish_key_registration(ctx, "", answer, passkey=False)
    passkey = await services.account.start_key_registration(ctx, passkey=True)
    answer = software_key(passkey.options_json, passkey=True)
    assert len(await services.account.finish_key_registration(ctx, "", answer, passkey=True)) == 10

    setup = await services.account.start_totp(ctx)
    code = pyotp.TOTP(setup.secret).at(services.clock.now())
    assert await services.account.confirm_totp(ctx, "", code, "Phone") == []
    me = await services.account.me(ctx)
    assert sorted(f.kind.value for f in me.factors) == ["passkey", "totp"]

    await services.account.remove_factor_kind(ctx, "totp")
    with pytest.raises(NotFound):
        await services.account.remove_factor_kind(ctx, "totp")
    assert [f.kind.value for f in (await services.account.me(ctx)).factors] == ["passkey"]
