"""WebAuthn: the options zitui asks browsers for, and the verifiers of security keys and
passkeys against answers recorded from Chromium's virtual authenticators
(tools/record_webauthn.py, tests/data/webauthn/): what registers, what signs in, and each way
an answer is refused with nothing stored and no counter moved."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import cbor2
import pytest

from tests import test_core_sessions as session_tests
from tests.dbfile import rows
from tests.self_service import events_of
from tests.test_core_sessions import add_human
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.factors import Factor, FactorKind
from zitui.core.services import Services
from zitui.core.webauthn import WebAuthnService, client_error
from zitui.errors import InvalidArgument, PreconditionFailed, ZituiError
from zitui.records import Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
DATA = Path(__file__).parent / "data" / "webauthn"
USER_ID = "0193a8f0-7c1e-7b3a-9d2e-5f6a7b8c9d0e"  # the user the recordings belong to
U2F, PASSKEY = FactorKind.U2F, FactorKind.PASSKEY
SK_NONE = "security_key_registration_none"
SK_PACKED = "security_key_registration_packed"
PK = "passkey_registration"


def recorded(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return fixture


ORIGIN = recorded(SK_NONE)["origin"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def other_challenge() -> str:
    return b64(bytes(32))


@pytest.fixture
def webauthn(clock: FixedClock) -> WebAuthnService:
    """The service as the recordings' page saw it (http://localhost:<port>)."""
    return WebAuthnService(clock, origin=ORIGIN, rp_name="zitui")


@pytest.fixture
async def owner(services: Services, alice: User) -> User:
    """A user with the id the recordings carry as their user handle."""
    user = replace(alice, id=USER_ID, username="wendy", email="wendy@example.com")
    async with services.store.transaction() as tx:
        await tx.users.insert(user, password_hash=None)
        stored = await tx.users.find(USER_ID)
    assert stored is not None
    return stored


@pytest.fixture
async def bob(services: Services, admin: Context, acme: Organization) -> User:
    return await add_human(services, admin, acme.id, "bob")


async def register(
    services: Services,
    service: WebAuthnService,
    user: User,
    name: str,
    *,
    passkey: bool,
    credential: dict[str, Any] | str | None = None,
    challenge: str | bytes | None = None,
    label: str = "",
) -> Factor:
    fixture = recorded(name)
    body = fixture["credential"] if credential is None else credential
    async with services.store.transaction() as tx:
        return await service.finish_registration(
            tx,
            services.system_context(),
            user,
            passkey=passkey,
            credential=body if isinstance(body, str) else json.dumps(body),
            challenge=fixture["challenge"] if challenge is None else challenge,
            name=label,
        )


async def check(
    services: Services,
    service: WebAuthnService,
    name: str,
    *,
    user: User | None,
    kinds: set[FactorKind],
    user_verification: bool = False,
    credential: dict[str, Any] | str | None = None,
    challenge: str | None = None,
) -> Factor | ZituiError:
    """Check a recorded assertion inside one transaction, as the login flow does: an error
    is caught inside it, so what the service recorded before raising is kept."""
    fixture = recorded(name)
    body = fixture["credential"] if credential is None else credential
    async with services.store.transaction() as tx:
        try:
            return await service.check(
                tx,
                services.system_context(),
                credential=body if isinstance(body, str) else json.dumps(body),
                challenge=fixture["challenge"] if challenge is None else challenge,
                user=user,
                kinds=kinds,
                user_verification=user_verification,
            )
        except ZituiError as error:
            return error


def refused(outcome: Factor | ZituiError, code: str, cause: str = "") -> None:
    assert isinstance(outcome, InvalidArgument), outcome
    assert outcome.code == code and outcome.field == "credential"
    assert cause in str(outcome.__cause__ or "")


def factor_rows(services: Services) -> list[tuple[object, ...]]:
    return rows(
        services.settings.data_dir,
        "SELECT user_id, kind, name, state, credential_id, public_key, sign_count, transports,"
        " last_used_at FROM user_factors ORDER BY created_at, id",
    )


def counter(services: Services) -> list[tuple[object, ...]]:
    return rows(services.settings.data_dir, "SELECT sign_count, last_used_at FROM user_factors")


def tampered(name: str, change: Any) -> dict[str, Any]:
    credential = recorded(name)["credential"]
    change(credential)
    return dict(credential)


# --- options -------------------------------------------------------------------------------


def test_the_relying_party_is_the_external_urls_host(clock: FixedClock):
    service = WebAuthnService(clock, origin="https://ID.example.com:443/zitui", rp_name="Acme")
    assert (service.origin, service.rp_id) == ("https://id.example.com", "id.example.com")
    local = WebAuthnService(clock, origin="http://localhost:8080", rp_name="")
    assert (local.origin, local.rp_id) == ("http://localhost:8080", "localhost")


async def test_without_a_host_name_no_ceremony_starts(clock: FixedClock, alice: User):
    service = WebAuthnService(clock, origin="id.example.com", rp_name="Acme")
    with pytest.raises(PreconditionFailed) as raised:
        service.registration(alice, [], passkey=False)
    assert raised.value.code == "webauthn.not_supported"
    with pytest.raises(PreconditionFailed):
        service.authentication([], user_verification=True)


async def test_security_key_options(services: Services, webauthn: WebAuthnService, owner: User):
    existing = await register(services, webauthn, owner, SK_NONE, passkey=False)
    ceremony = webauthn.registration(owner, [existing], passkey=False)
    options = json.loads(ceremony.options_json)

    assert options["challenge"] == ceremony.challenge and len(unb64(ceremony.challenge)) == 32
    assert options["rp"] == {"name": "zitui", "id": "localhost"}
    assert options["user"] == {
        "id": b64(owner.id.encode()),
        "name": owner.login_name,
        "displayName": owner.display_name,
    }
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["authenticatorSelection"] == {
        "residentKey": "discouraged",
        "requireResidentKey": False,
        "userVerification": "discouraged",
    }
    assert options["attestation"] == "none" and options["timeout"] == 120_000
    assert options["excludeCredentials"] == [
        {"id": existing.credential_id, "type": "public-key", "transports": ["usb"]}
    ]
    assert "extensions" not in options
    assert webauthn.registration(owner, [], passkey=False).challenge != ceremony.challenge


async def test_passkey_options(webauthn: WebAuthnService, owner: User):
    options = json.loads(webauthn.registration(owner, [], passkey=True).options_json)

    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["extensions"] == {"credProps": True} and options["excludeCredentials"] == []


async def test_sign_in_options_list_the_users_credentials_or_none(
    services: Services, webauthn: WebAuthnService, owner: User
):
    await register(services, webauthn, owner, SK_NONE, passkey=False)
    async with services.store.reader() as tx:
        factors = await services.factors.ready_factors(tx, owner.id)

    second = json.loads(webauthn.authentication(factors, user_verification=False).options_json)
    passkey = json.loads(webauthn.authentication([], user_verification=True).options_json)

    credential_id = recorded(SK_NONE)["credential"]["id"]
    assert second["allowCredentials"] == [
        {"id": credential_id, "type": "public-key", "transports": ["usb"]}
    ]
    assert second["userVerification"] == "discouraged" and second["rpId"] == "localhost"
    assert passkey["allowCredentials"] == [] and passkey["userVerification"] == "required"
    assert passkey["timeout"] == 120_000 and len(unb64(passkey["challenge"])) == 32


async def test_a_caller_may_derive_the_challenge_and_keep_it_as_bytes(
    services: Services, webauthn: WebAuthnService, owner: User
):
    derived = bytes(range(32))
    for ceremony in (
        webauthn.registration(owner, [], passkey=False, challenge=derived),
        webauthn.authentication([], user_verification=True, challenge=derived),
    ):
        assert ceremony.challenge == b64(derived)
        assert json.loads(ceremony.options_json)["challenge"] == b64(derived)
    with pytest.raises(ValueError):
        webauthn.authentication([], user_verification=True, challenge=bytes(15))

    recorded_challenge = unb64(recorded(SK_NONE)["challenge"])
    factor = await register(
        services, webauthn, owner, SK_NONE, passkey=False, challenge=recorded_challenge
    )
    assert factor.kind == U2F


# --- registration ------------------------------------------------------------------------


async def test_a_security_key_registers(services: Services, webauthn: WebAuthnService, owner: User):
    factor = await register(services, webauthn, owner, SK_NONE, passkey=False)

    credential = recorded(SK_NONE)["credential"]
    assert (factor.kind, factor.name, factor.ready, factor.user_id) == (
        U2F,
        "Security key",
        True,
        owner.id,
    )
    assert factor.credential_id == credential["id"] and factor.transports == ("usb",)
    [row] = factor_rows(services)
    assert row[:5] == (owner.id, "u2f", "Security key", "ready", credential["id"])
    assert isinstance(row[5], str) and len(unb64(row[5])) > 64  # the COSE key
    assert row[6:] == (1, '["usb"]', None)
    [added] = await events_of(services, "user.human.u2f.token.added", owner.id)
    assert added.payload == {"factor_id": factor.id} and added.org_id == owner.org_id


async def test_a_packed_attestation_registers_with_its_name(
    services: Services, webauthn: WebAuthnService, owner: User
):
    factor = await register(
        services, webauthn, owner, SK_PACKED, passkey=False, label="  Blue key  "
    )
    assert factor.kind == U2F and factor.name == "Blue key"


async def test_a_passkey_registers(services: Services, webauthn: WebAuthnService, owner: User):
    factor = await register(services, webauthn, owner, PK, passkey=True)

    assert (factor.kind, factor.name, factor.transports) == (PASSKEY, "Passkey", ("internal",))
    assert await events_of(services, "user.human.passwordless.token.added", owner.id)
    assert not await events_of(services, "user.human.u2f.token.added", owner.id)


async def test_a_passkey_the_client_leaves_undescribed_registers(
    services: Services, webauthn: WebAuthnService, owner: User
):
    # Chromium leaves credProps.rk out for a credential it did not keep as discoverable;
    # nothing signed tells, so such a passkey is taken (the options ask for a resident key).
    factor = await register(
        services, webauthn, owner, "passkey_registration_not_resident", passkey=True
    )
    assert factor.kind == PASSKEY


def _origin(credential: dict[str, Any], origin: str) -> None:
    response = credential["response"]
    client_data = json.loads(unb64(response["clientDataJSON"]))
    response["clientDataJSON"] = b64(json.dumps(client_data | {"origin": origin}).encode())


def _not_discoverable(credential: dict[str, Any]) -> None:
    credential["clientExtensionResults"] = {"credProps": {"rk": False}}


@pytest.mark.parametrize(
    ("name", "passkey", "origin", "change", "challenge", "code", "cause"),
    [
        (SK_NONE, False, ORIGIN, None, other_challenge(), "webauthn.failed", "challenge"),
        (SK_NONE, False, "http://localhost:1", None, None, "webauthn.failed", "origin"),
        # Attestation "none" signs nothing over the client data: only the RP id hash is off.
        (
            SK_NONE,
            False,
            "http://zitui.localhost",
            lambda c: _origin(c, "http://zitui.localhost"),
            None,
            "webauthn.failed",
            "RP ID",
        ),
        (SK_NONE, True, ORIGIN, None, None, "webauthn.failed", "User verification"),
        (PK, True, ORIGIN, _not_discoverable, None, "webauthn.not_discoverable", ""),
        (
            SK_PACKED,
            False,
            ORIGIN,
            lambda c: c["response"].update(clientDataJSON=b64(b'{"type":"webauthn.create"}')),
            None,
            "webauthn.failed",
            "",
        ),
    ],
    ids=["challenge", "origin", "rp-id", "no-uv-for-passkey", "not-discoverable", "client-data"],
)
async def test_a_registration_is_refused(
    services: Services,
    clock: FixedClock,
    owner: User,
    name: str,
    passkey: bool,
    origin: str,
    change: Any,
    challenge: str | None,
    code: str,
    cause: str,
):
    service = WebAuthnService(clock, origin=origin, rp_name="zitui")
    credential = tampered(name, change) if change else None

    with pytest.raises(InvalidArgument) as raised:
        await register(
            services,
            service,
            owner,
            name,
            passkey=passkey,
            credential=credential,
            challenge=challenge,
        )

    refused(raised.value, code, cause)
    assert factor_rows(services) == []
    assert not await events_of(services, "user.human.u2f.token.added", owner.id)
    assert not await events_of(services, "user.human.passwordless.token.added", owner.id)


def credential_id_of(size: int) -> Any:
    """A change giving an attestation "none" (which signs nothing) a credential id of `size`
    zero bytes."""

    def change(credential: dict[str, Any]) -> None:
        response = credential["response"]
        attestation = cbor2.loads(unb64(response["attestationObject"]))
        data: bytes = attestation["authData"]
        # rpIdHash (32), flags (1), signCount (4), AAGUID (16), the id's length (2), the id.
        end = 55 + int.from_bytes(data[53:55], "big")
        data = data[:53] + size.to_bytes(2, "big") + bytes(size) + data[end:]
        response["attestationObject"] = b64(cbor2.dumps(attestation | {"authData": data}))
        credential["id"] = credential["rawId"] = b64(bytes(size))

    return change


async def test_a_credential_id_over_1023_bytes_is_refused(
    services: Services, webauthn: WebAuthnService, owner: User
):
    long = tampered(SK_NONE, credential_id_of(1024))
    with pytest.raises(InvalidArgument) as raised:
        await register(services, webauthn, owner, SK_NONE, passkey=False, credential=long)
    refused(raised.value, "webauthn.failed")
    assert factor_rows(services) == []

    # The same surgery within the limit registers: only the length is refused.
    longest = tampered(SK_NONE, credential_id_of(1023))
    factor = await register(services, webauthn, owner, SK_NONE, passkey=False, credential=longest)
    assert factor.credential_id == b64(bytes(1023))


GARBAGE = [
    "",
    "not json",
    "[]",
    "null",
    '{"id": 1}',
    '{"id": "a", "rawId": "a", "response": {}}',
    '{"id": "AQ", "rawId": "AQ", "type": "password",'
    ' "response": {"clientDataJSON": "e30", "attestationObject": "oA",'
    ' "authenticatorData": "AA", "signature": "AA"}}',
    "[" * 100_000,
    json.dumps({"id": "x" * 70_000}),
]


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_garbage_is_no_registration(
    services: Services, webauthn: WebAuthnService, owner: User, garbage: str
):
    with pytest.raises(InvalidArgument) as raised:
        await register(services, webauthn, owner, SK_NONE, passkey=False, credential=garbage)
    refused(raised.value, "webauthn.invalid")
    assert factor_rows(services) == []


async def test_a_name_longer_than_200_is_refused(
    services: Services, webauthn: WebAuthnService, owner: User
):
    with pytest.raises(InvalidArgument) as raised:
        await register(services, webauthn, owner, SK_NONE, passkey=False, label="k" * 201)
    assert (raised.value.code, raised.value.field) == ("factor.name.too_long", "name")
    assert factor_rows(services) == []


async def test_a_credential_registers_once(
    services: Services, webauthn: WebAuthnService, owner: User, bob: User
):
    await register(services, webauthn, owner, SK_NONE, passkey=False)

    for user in (owner, bob):
        with pytest.raises(PreconditionFailed) as raised:
            await register(services, webauthn, user, SK_NONE, passkey=False)
        assert raised.value.code == "webauthn.already_registered"
    assert [row[0] for row in factor_rows(services)] == [owner.id]
    assert len(await events_of(services, "user.human.u2f.token.added", owner.id)) == 1


# --- sign-in checks --------------------------------------------------------------------


async def test_a_security_key_signs_twice_and_its_counter_moves(
    services: Services, webauthn: WebAuthnService, owner: User, clock: FixedClock
):
    registered = await register(services, webauthn, owner, SK_NONE, passkey=False)

    first = await check(services, webauthn, "security_key_assertion_1", user=owner, kinds={U2F})
    second = await check(services, webauthn, "security_key_assertion_2", user=owner, kinds={U2F})

    assert isinstance(first, Factor) and isinstance(second, Factor)
    assert first.id == second.id == registered.id and second.last_used_at == clock.now()
    async with services.store.reader() as tx:
        stored = await tx.factors.find_by_credential_id(str(registered.credential_id))
    assert stored is not None and (stored.sign_count, stored.last_used_at) == (3, clock.now())
    succeeded = await events_of(services, "user.human.u2f.token.check.succeeded", owner.id)
    assert [e.payload for e in succeeded] == [{"factor_id": registered.id}] * 2


@pytest.mark.parametrize(
    "order",
    [
        ["security_key_assertion_1", "security_key_assertion_1"],
        ["security_key_assertion_2", "security_key_assertion_1"],
    ],
    ids=["replayed", "lower"],
)
async def test_a_counter_that_does_not_move_is_refused(
    services: Services, webauthn: WebAuthnService, owner: User, order: list[str]
):
    registered = await register(services, webauthn, owner, SK_NONE, passkey=False)
    accepted, again = order
    assert isinstance(await check(services, webauthn, accepted, user=owner, kinds={U2F}), Factor)
    before = counter(services)

    refused(await check(services, webauthn, again, user=owner, kinds={U2F}), "webauthn.counter")

    assert counter(services) == before
    [failed] = await events_of(services, "user.human.u2f.token.check.failed", owner.id)
    assert failed.payload == {"factor_id": registered.id, "reason": "counter"}


def _flip_signature(credential: dict[str, Any]) -> None:
    signature = bytearray(unb64(credential["response"]["signature"]))
    signature[-5] ^= 0x01
    credential["response"]["signature"] = b64(bytes(signature))


async def test_a_tampered_signature_is_refused(
    services: Services, webauthn: WebAuthnService, owner: User
):
    registered = await register(services, webauthn, owner, SK_NONE, passkey=False)
    credential = tampered("security_key_assertion_1", _flip_signature)

    outcome = await check(
        services,
        webauthn,
        "security_key_assertion_1",
        user=owner,
        kinds={U2F},
        credential=credential,
    )

    refused(outcome, "webauthn.failed", "signature")
    assert counter(services) == [(1, None)]
    [failed] = await events_of(services, "user.human.u2f.token.check.failed", owner.id)
    assert failed.payload == {"factor_id": registered.id, "reason": "verification"}
    # The untouched assertion still passes: the refusal consumed nothing.
    good = await check(services, webauthn, "security_key_assertion_1", user=owner, kinds={U2F})
    assert isinstance(good, Factor)


@pytest.mark.parametrize(
    ("origin", "challenge", "cause"),
    [(ORIGIN, other_challenge(), "challenge"), ("https://localhost", None, "origin")],
    ids=["challenge", "origin"],
)
async def test_an_assertion_for_another_ceremony_is_refused(
    services: Services,
    webauthn: WebAuthnService,
    clock: FixedClock,
    owner: User,
    origin: str,
    challenge: str | None,
    cause: str,
):
    await register(services, webauthn, owner, SK_NONE, passkey=False)
    service = WebAuthnService(clock, origin=origin, rp_name="zitui")

    outcome = await check(
        services,
        service,
        "security_key_assertion_1",
        user=owner,
        kinds={U2F},
        challenge=challenge,
    )

    refused(outcome, "webauthn.failed", cause)
    assert counter(services) == [(1, None)]


async def test_a_credential_of_someone_else_unknown_or_of_another_kind_is_refused(
    services: Services, webauthn: WebAuthnService, owner: User, bob: User
):
    assertion = "security_key_assertion_1"
    refused(
        await check(services, webauthn, assertion, user=owner, kinds={U2F}),
        "webauthn.unknown_credential",
    )
    await register(services, webauthn, owner, SK_NONE, passkey=False)

    refused(
        await check(services, webauthn, assertion, user=bob, kinds={U2F}),
        "webauthn.unknown_credential",
    )
    refused(
        await check(services, webauthn, assertion, user=owner, kinds={PASSKEY}),
        "webauthn.unknown_credential",
    )
    assert counter(services) == [(1, None)]
    assert not await events_of(services, "user.human.u2f.token.check.failed", owner.id)


async def test_a_passkey_signs_in_without_a_name(
    services: Services, webauthn: WebAuthnService, owner: User
):
    registered = await register(services, webauthn, owner, PK, passkey=True)

    outcome = await check(
        services,
        webauthn,
        "passkey_assertion_discoverable",
        user=None,
        kinds={PASSKEY},
        user_verification=True,
    )

    assert isinstance(outcome, Factor) and outcome.id == registered.id
    assert outcome.user_id == owner.id
    assert await events_of(services, "user.human.passwordless.token.check.succeeded", owner.id)


async def test_a_passkey_whose_user_handle_names_someone_else_is_refused(
    services: Services, webauthn: WebAuthnService, bob: User
):
    await register(services, webauthn, bob, PK, passkey=True)  # recorded for another user id

    outcome = await check(
        services,
        webauthn,
        "passkey_assertion_discoverable",
        user=None,
        kinds={PASSKEY},
        user_verification=True,
    )

    refused(outcome, "webauthn.unknown_credential")
    assert counter(services) == [(1, None)]


async def test_a_passkey_without_user_verification_is_no_passkey_sign_in(
    services: Services, webauthn: WebAuthnService, owner: User
):
    await register(services, webauthn, owner, PK, passkey=True)
    assertion = "passkey_assertion_without_uv"

    outcome = await check(
        services, webauthn, assertion, user=None, kinds={PASSKEY}, user_verification=True
    )
    refused(outcome, "webauthn.failed", "User verification")
    assert counter(services) == [(1, None)]
    # As a second factor after a password, presence is enough.
    second = await check(services, webauthn, assertion, user=owner, kinds={PASSKEY, U2F})
    assert isinstance(second, Factor)


@pytest.mark.parametrize("garbage", GARBAGE[:7])
async def test_garbage_is_no_assertion(
    services: Services, webauthn: WebAuthnService, owner: User, garbage: str
):
    await register(services, webauthn, owner, SK_NONE, passkey=False)
    outcome = await check(
        services,
        webauthn,
        "security_key_assertion_1",
        user=owner,
        kinds={U2F},
        credential=garbage,
    )
    refused(outcome, "webauthn.invalid")


async def test_a_bad_user_handle_is_no_assertion(
    services: Services, webauthn: WebAuthnService, owner: User
):
    await register(services, webauthn, owner, PK, passkey=True)
    credential = tampered(
        "passkey_assertion_discoverable", lambda c: c["response"].update(userHandle=42)
    )
    outcome = await check(
        services,
        webauthn,
        "passkey_assertion_discoverable",
        user=None,
        kinds={PASSKEY},
        credential=credential,
    )
    refused(outcome, "webauthn.invalid")


# --- the store's counter guard ----------------------------------------------------------


async def test_the_counter_only_moves_up_and_zero_stays_zero(
    services: Services, owner: User, clock: FixedClock
):
    async with services.store.transaction() as tx:
        for factor_id, count in (("f-zero", 0), ("f-five", 5)):
            assert await tx.factors.insert_credential(
                factor_id,
                owner.id,
                "u2f",
                name="k",
                credential_id=factor_id,
                public_key="AQ",
                sign_count=count,
                transports=[],
                at=clock.now(),
            )
        at = clock.now()
        assert await tx.factors.record_assertion("f-zero", sign_count=0, at=at)
        assert await tx.factors.record_assertion("f-zero", sign_count=0, at=at)
        for stale in (5, 4, 0):
            assert not await tx.factors.record_assertion("f-five", sign_count=stale, at=at)
        assert await tx.factors.record_assertion("f-five", sign_count=6, at=at)
        assert not await tx.factors.record_assertion("f-five", sign_count=6, at=at)
        assert await tx.factors.record_assertion("f-zero", sign_count=1, at=at)
        assert not await tx.factors.record_assertion("f-zero", sign_count=0, at=at)
        stored = await tx.factors.find_by_credential_id("f-five")
    assert stored is not None and stored.sign_count == 6


# --- what the page reports ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("NotAllowedError", "webauthn.cancelled"),
        ("InvalidStateError", "webauthn.already_registered"),
        ("SecurityError", "webauthn.not_supported"),
        ("NotSupportedError", "webauthn.not_supported"),
        ("UnknownError", "webauthn.client_error"),
        ("<script>", "webauthn.client_error"),
    ],
)
def test_browser_errors_map_to_messages(name: str, code: str):
    error = client_error(name)
    assert isinstance(error, InvalidArgument)
    assert (error.code, error.field) == (code, "credential")
    assert name not in error.message
