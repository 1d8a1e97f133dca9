"""The account API's routes doing their work for the token's user: profile, username, email and
phone with their codes, password, TOTP and codes by SMS, recovery codes, sessions, refresh
tokens and deletion, each seen through the API (and the audit log where it matters)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest

from tests import oidc_fixtures as fx
from tests import test_core_sms as sms_tests
from tests.api_fixtures import api_tokens, bearer
from tests.oidc_fixtures import PASSWORD, Harness, World
from tests.self_service import Mailbox, events_of
from tests.test_core_sms import SmsProvider, http_settings
from zitui.server.api.routes import ME, PREFIX

clock, harness, world = fx.clock, fx.harness, fx.world
provider = sms_tests.provider
PHONE_CODE = re.compile(r"\b([A-Z0-9]{6})\b")


class Api:
    """One user's token, and the calls the tests make with it."""

    def __init__(self, harness: Harness, token: str) -> None:
        self.harness = harness
        self.token = token

    async def __call__(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        response = await self.harness.http.request(
            method, path, headers=bearer(self.token), **kwargs
        )
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
async def alice(harness: Harness, world: World) -> Api:
    tokens = await api_tokens(harness, world.clients["basic"], world.alice)
    return Api(harness, tokens["access_token"])


@pytest.fixture
async def bob(harness: Harness, world: World) -> Api:
    tokens = await api_tokens(harness, world.clients["basic"], world.bob)
    return Api(harness, tokens["access_token"])


async def test_each_token_sees_its_own_user(alice: Api, bob: Api, world: World) -> None:
    mine = await alice("GET", ME)
    assert mine["user"]["id"] == world.alice.id
    assert mine["user"]["userName"] == "alice"
    assert mine["user"]["state"] == "USER_STATE_ACTIVE"
    human = mine["user"]["human"]
    assert human["email"] == {"email": "alice@example.com", "isEmailVerified": True}
    assert human["profile"]["firstName"] == "Alice"
    assert (mine["recoveryCodesLeft"], mine["mayDelete"]) == (0, False)
    assert (await bob("GET", ME))["user"]["id"] == world.bob.id


async def test_profile_and_username_change_for_the_token_user_only(
    harness: Harness, alice: Api, bob: Api, world: World
) -> None:
    change = {"firstName": "Alicia", "nickName": "Ali", "gender": "GENDER_FEMALE"}
    done = await alice("PUT", f"{ME}/profile", change)
    assert done["details"]["resourceOwner"] == world.org_id
    profile = (await alice("GET", f"{ME}/profile"))["profile"]
    assert (profile["firstName"], profile["nickName"], profile["gender"]) == (
        "Alicia",
        "Ali",
        "GENDER_FEMALE",
    )
    assert (await bob("GET", f"{ME}/profile"))["profile"]["firstName"] == "Bob"
    same = await alice("PUT", f"{ME}/profile", {"firstName": "Alicia"}, status=412)
    assert same["code"] == "user.profile.unchanged"
    await alice("PUT", f"{ME}/username", {"userName": "alicia"})
    assert (await alice("GET", ME))["user"]["userName"] == "alicia"
    taken = await alice("PUT", f"{ME}/username", {"userName": "bob"}, status=409)
    assert taken["kind"] == "already_exists"
    changed = await events_of(harness.services, "user.human.profile.changed", world.alice.id)
    assert changed and changed[0].actor_id == world.alice.id


async def test_an_email_change_is_verified_with_the_mailed_code(
    harness: Harness, alice: Api, world: World
) -> None:
    mailbox = Mailbox(harness.services)
    await mailbox.new()
    await alice("PUT", f"{ME}/email", {"email": "alice@example.org"})
    email = (await alice("GET", f"{ME}/email"))["email"]
    assert email == {"email": "alice@example.org", "isEmailVerified": False}
    assert (await alice("GET", ME))["emailCodePending"] is True
    first = await mailbox.one("alice@example.org")
    wrong = await alice("POST", f"{ME}/email/_verify", {"code": "WRONG1"}, status=400)
    assert wrong["field"] == "code"
    await alice("POST", f"{ME}/email/_resend_verification", {})
    second = await mailbox.one("alice@example.org")
    assert second.code != first.code
    await alice("POST", f"{ME}/email/_verify", {"code": second.code})
    email = (await alice("GET", f"{ME}/email"))["email"]
    assert email == {"email": "alice@example.org", "isEmailVerified": True}


async def test_a_phone_is_verified_by_sms_and_removed_with_its_factor(
    harness: Harness, alice: Api, world: World, provider: SmsProvider
) -> None:
    await harness.services.sms.set_sms(world.admin, http_settings(provider))
    sms = {"second_factors": ["otp", "u2f", "otp_sms"]}
    await harness.services.policies.set(world.admin, "login", sms)
    await alice("PUT", f"{ME}/phone", {"phone": "+41791234567"})
    assert (await alice("GET", f"{ME}/phone"))["phone"]["isPhoneVerified"] is False
    await harness.services.sender.deliver_due()
    [sent] = provider.received
    text = json.loads(sent.body)["text"]
    [code] = PHONE_CODE.findall(text)
    await alice("POST", f"{ME}/phone/_verify", {"code": code})
    phone = (await alice("GET", f"{ME}/phone"))["phone"]
    assert phone == {"phone": "+41791234567", "isPhoneVerified": True}
    codes = await alice("POST", f"{ME}/auth_factors/otp_sms", {})
    assert len(codes["recoveryCodes"]) >= 8  # the first factor brings recovery codes
    factors = (await alice("POST", f"{ME}/auth_factors/_search", {}))["result"]
    assert [(f["kind"], "otpSms" in f) for f in factors] == [("otp_sms", True)]
    await alice("DELETE", f"{ME}/phone")
    assert (await alice("POST", f"{ME}/auth_factors/_search", {}))["result"] == []
    assert (await alice("GET", f"{ME}/phone"))["phone"]["phone"] == ""


async def test_an_authenticator_app_is_added_renamed_and_removed(alice: Api) -> None:
    started = await alice("POST", f"{ME}/auth_factors/otp", {})
    assert started["url"].startswith("otpauth://totp/")
    wrong = {"code": "000000", "factorId": started["factorId"]}
    if pyotp.TOTP(started["secret"]).verify("000000"):
        wrong["code"] = "111111"
    await alice("POST", f"{ME}/auth_factors/otp/_verify", wrong, status=400)
    code = pyotp.TOTP(started["secret"]).now()
    body = {"code": code, "factorId": started["factorId"], "tokenName": "Phone app"}
    done = await alice("POST", f"{ME}/auth_factors/otp/_verify", body)
    recovery = done["recoveryCodes"]
    assert len(recovery) >= 8 and len(set(recovery)) == len(recovery)
    assert (await alice("GET", f"{ME}/recovery_codes"))["count"] == len(recovery)
    [factor] = (await alice("POST", f"{ME}/auth_factors/_search", {}))["result"]
    assert (factor["kind"], factor["name"], factor["otp"]) == ("totp", "Phone app", {})
    await alice("PUT", f"{ME}/auth_factors/{factor['id']}/name", {"name": "Work phone"})
    [renamed] = (await alice("POST", f"{ME}/auth_factors/_search", {}))["result"]
    assert renamed["name"] == "Work phone"
    fresh = (await alice("POST", f"{ME}/recovery_codes/_regenerate", {}))["recoveryCodes"]
    assert set(fresh).isdisjoint(recovery)
    await alice("DELETE", f"{ME}/auth_factors/otp")
    assert (await alice("POST", f"{ME}/auth_factors/_search", {}))["result"] == []
    gone = await alice("DELETE", f"{ME}/auth_factors/otp", status=404)
    assert gone["code"] == "factor.not_found"


async def test_changes_of_credentials_want_a_recent_sign_in(
    harness: Harness, alice: Api, clock: fx.OffsetClock
) -> None:
    clock.advance(timedelta(minutes=11))
    response = await harness.http.post(
        f"{ME}/auth_factors/otp", json={}, headers=bearer(alice.token)
    )
    assert response.status_code == 401
    assert response.json()["code"] == "session.reauth_required"
    assert response.headers["www-authenticate"] == (
        'Bearer realm="zitui", error="insufficient_user_authentication"'
    )
    assert (await alice("GET", ME))["user"]["userName"] == "alice"  # the token still reads


async def test_a_security_key_registration_starts_with_creation_options(
    alice: Api, world: World
) -> None:
    import base64

    started = await alice("POST", f"{ME}/auth_factors/u2f", {})
    options = json.loads(base64.b64decode(started["key"]["publicKey"]))
    assert (
        options["rp"]["name"]
        and options["challenge"]
        and options["user"]["name"] == world.alice.login_name
    )
    body = {
        "verification": {"publicKeyCredential": {"id": "x", "response": {}}},
        "registrationId": "not-the-one",
    }
    refused = await alice("POST", f"{ME}/auth_factors/u2f/_verify", body, status=404)
    assert refused["code"] == "webauthn.registration_not_found"


async def test_sessions_are_listed_and_ended(harness: Harness, world: World, alice: Api) -> None:
    other_cookie, other = await harness.sign_in(world.alice)
    listed = (await alice("POST", f"{ME}/sessions/_search", {}))["result"]
    assert {s["sessionId"] for s in listed} >= {other.id}
    assert [s["current"] for s in listed].count(True) == 1
    await alice("DELETE", f"{ME}/sessions/{other.id}")
    left = (await alice("POST", f"{ME}/sessions/_search", {}))["result"]
    assert other.id not in {s["sessionId"] for s in left}
    await alice("DELETE", f"{ME}/sessions/{other.id}", status=404)
    await harness.sign_in(world.alice)
    ended = await alice("POST", f"{ME}/sessions/_end_others", {})
    assert ended["ended"] >= 1
    [current] = (await alice("POST", f"{ME}/sessions/_search", {}))["result"]
    assert current["current"] is True


async def test_another_users_session_cannot_be_ended(
    harness: Harness, world: World, alice: Api, bob: Api
) -> None:
    [bobs] = (await bob("POST", f"{ME}/sessions/_search", {}))["result"]
    await alice("DELETE", f"{ME}/sessions/{bobs['sessionId']}", status=404)
    assert (await bob("POST", f"{ME}/sessions/_search", {}))["result"] == [bobs]


async def test_refresh_tokens_are_listed_and_revoked(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    first = await api_tokens(harness, client, world.alice)
    await api_tokens(harness, world.clients["post"], world.alice)
    alice = Api(harness, first["access_token"])
    held = (await alice("POST", f"{ME}/tokens/refresh/_search", {}))["result"]
    assert {h["clientId"] for h in held} == {client.client_id, world.clients["post"].client_id}
    other = next(h for h in held if h["clientId"] != client.client_id)
    await alice("DELETE", f"{ME}/tokens/refresh/{other['id']}")
    [left] = (await alice("POST", f"{ME}/tokens/refresh/_search", {}))["result"]
    assert left["clientId"] == client.client_id
    await alice("DELETE", f"{ME}/tokens/refresh/{other['id']}", status=404)
    await alice("POST", f"{ME}/tokens/refresh/_revoke_all", {})
    renewed = Api(harness, (await api_tokens(harness, client, world.alice))["access_token"])
    [only] = (await renewed("POST", f"{ME}/tokens/refresh/_search", {}))["result"]
    assert only["id"] != left["id"]


async def test_a_password_change_ends_the_tokens_of_other_sessions(
    harness: Harness, world: World, alice: Api
) -> None:
    elsewhere = await api_tokens(harness, world.clients["post"], world.alice)
    other = Api(harness, elsewhere["access_token"])
    wrong = {"oldPassword": "nope", "newPassword": "N3w-Pass!xy"}
    assert (await alice("PUT", f"{ME}/password", wrong, status=400))["field"]
    weak = {"oldPassword": PASSWORD, "newPassword": "short"}
    assert (await alice("PUT", f"{ME}/password", weak, status=400))["field"]
    await alice("PUT", f"{ME}/password", {"oldPassword": PASSWORD, "newPassword": "N3w-Pass!xy"})
    assert (await other("GET", ME, status=401))["code"] == "api.token_invalid"
    assert (await alice("GET", ME))["user"]["id"] == world.alice.id  # its session stays


async def test_self_deletion_follows_the_login_policy(
    harness: Harness, world: World, alice: Api
) -> None:
    refused = await alice("DELETE", ME, {"password": PASSWORD}, status=412)
    assert refused["kind"] == "precondition_failed"
    await harness.services.policies.set(world.admin, "login", {"allow_self_delete": True})
    await alice("DELETE", ME, {"password": "wrong"}, status=400)
    await alice("DELETE", ME, {"password": PASSWORD})
    assert (await alice("GET", ME, status=401))["code"] == "api.token_invalid"
    assert await events_of(harness.services, "user.removed", world.alice.id)


async def test_a_personal_access_token_is_accepted_for_its_machine_user(
    harness: Harness, world: World
) -> None:
    robot = Api(harness, world.robot_pat)
    refused = await robot("GET", ME, status=412)  # authenticated; the account is a human's
    assert refused["code"] == "user.not_human"
    rules = await robot("GET", f"{PREFIX}/policies/passwords/complexity")
    assert rules["policy"]["details"]["resourceOwner"] == world.org_id
