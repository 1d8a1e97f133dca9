"""Codes by mail for a forgotten password and for a user a manager created: the same answer
for every login name, the code checked after the password rules and before any hash, what a
new password ends, and how the codes are kept."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest

from tests import test_core_sessions as session_tests
from tests.counting import CountingHasher
from tests.dbfile import rows
from tests.self_service import (
    META,
    NEW_PASSWORD,
    RITA,
    RITA_PASSWORD,
    Mailbox,
    events_of,
    register,
    user_row,
)
from tests.test_core_login_flow import auth_request, password_sign_in
from tests.test_core_sessions import PASSWORD, set_policy
from tests.test_login_auth_requests import REDIRECT_URI
from zitui.core.apps import NewOidcApp
from zitui.core.context import Context
from zitui.core.credentials import PasswordChecker
from zitui.core.login.flows import LoginFlowService
from zitui.core.login.steps import AskPassword, Done, NotAllowed, Outcome, SetPassword, VerifyEmail
from zitui.core.oidc.client_auth import ClientRequest
from zitui.core.oidc.errors import OAuthError
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.core.user_codes import PASSWORD_INIT_PATH, USER_INIT_PATH, CodeMailer, Purpose
from zitui.core.users import NewHumanUser
from zitui.errors import PreconditionFailed
from zitui.records import AppType, AuthMethod, Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
# RFC 7636 Appendix B: the verifier of the challenge `authorize_params` sends.
CODE_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


@pytest.fixture
def mailbox(services: Services) -> Mailbox:
    return Mailbox(services)


class HashCountingHasher(CountingHasher):
    """The real hasher, counting the password hashes it is asked to make."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.hashed = 0

    async def hash(self, password: str) -> str:
        self.hashed += 1
        return await self.real.hash(password)


def other_than(code: str) -> str:
    return "AAAAAA" if code != "AAAAAA" else "BBBBBB"


async def reset_requested(
    login: LoginFlowService, browser: str, login_name: str, *, auth_request_id: str = ""
) -> Outcome:
    """Start, type the login name, and press "Forgot password?" on the password page."""
    started = await login.start(browser, auth_request_id=auth_request_id, request=META)
    flow_id = started.step.flow.id
    named = await login.submit_login_name(browser, flow_id, login_name)
    assert isinstance(named.step, AskPassword) and named.step.may_reset
    return await login.request_password_reset(browser, flow_id, META)


def without_ids(step: SetPassword) -> SetPassword:
    """The page as any name gets it: the flow's id and the typed name left out (and the
    error, which the tests compare by code and field)."""
    flow = replace(step.flow, id="", login_name="")
    return replace(step, flow=flow, login_name="", error=None)


# --- password reset ------------------------------------------------------------------


async def test_a_reset_answers_every_login_name_alike(
    services: Services, alice: User, mailbox: Mailbox
) -> None:
    await mailbox.new()
    answers = []
    for name in ("alice", "nobody"):
        browser = new_browser_cookie()
        outcome = await reset_requested(services.login, browser, name)
        step = outcome.step
        assert isinstance(step, SetPassword), step
        assert (step.purpose, step.login_name, step.error) == ("reset", name, None)
        answers.append((browser, step))
    (alice_browser, for_alice), (nobody_browser, for_nobody) = answers
    assert without_ids(for_alice) == without_ids(for_nobody)

    mail = await mailbox.one("alice@example.com")  # the unknown name got none
    assert mail.path == PASSWORD_INIT_PATH
    assert mail.query == {"userID": alice.id, "code": mail.code, "flow": for_alice.flow.id}
    [added] = await events_of(services, "user.human.password.code.added", alice.id)
    assert mail.code not in str(added.payload)

    # Resending and a code answer alike too; the unknown name still gets no mail.
    resent = [
        await services.login.resend_code(b, s.flow.id, META)
        for b, s in ((alice_browser, for_alice), (nobody_browser, for_nobody))
    ]
    steps = [r.step for r in resent if isinstance(r.step, SetPassword) and r.step.resent]
    assert len(steps) == 2 and without_ids(steps[0]) == without_ids(steps[1])
    latest = await mailbox.one("alice@example.com")
    wrong = [
        await services.login.set_password_with_code(
            b, s.flow.id, other_than(latest.code), NEW_PASSWORD, NEW_PASSWORD, META
        )
        for b, s in ((alice_browser, for_alice), (nobody_browser, for_nobody))
    ]
    refused = [w.step for w in wrong if isinstance(w.step, SetPassword)]
    errors = [(s.error.code, s.error.field) for s in refused if s.error is not None]
    assert errors == [("code.invalid", "code")] * 2
    assert without_ids(refused[0]) == without_ids(refused[1])


async def test_a_hidden_reset_is_not_allowed(
    services: Services, admin: Context, acme: Organization, alice: User, mailbox: Mailbox
) -> None:
    await mailbox.new()
    await set_policy(services, "login", acme.id, LoginPolicy(hide_password_reset=True))
    scope = f"openid urn:zitadel:iam:org:id:{acme.id}"
    request_id = await auth_request(services, await portal_app(services, admin, acme), scope=scope)
    browser = new_browser_cookie()
    started = await services.login.start(browser, auth_request_id=request_id, request=META)
    named = await services.login.submit_login_name(browser, started.step.flow.id, "alice")
    assert isinstance(named.step, AskPassword) and not named.step.may_reset
    refused = await services.login.request_password_reset(browser, started.step.flow.id, META)
    assert isinstance(refused.step, NotAllowed)
    assert refused.step.code == "password.reset_disabled"
    assert await mailbox.new() == []
    assert await events_of(services, "user.human.password.code.added", alice.id) == []
    # The password page still works.
    done = await services.login.submit_password(browser, started.step.flow.id, PASSWORD, META)
    assert isinstance(done.step, Done)


async def portal_app(services: Services, admin: Context, org: Organization) -> str:
    """A public web application that may ask for refresh tokens; its client id."""
    project = await services.projects.create_project(admin, org.id, "Portal")
    new = NewOidcApp(
        name="Portal",
        app_type=AppType.WEB,
        auth_method=AuthMethod.NONE,
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
        dev_mode=True,
    )
    app, _ = await services.apps.create_oidc_app(admin, project.id, new)
    return app.client_id


async def signed_in_with_tokens(
    services: Services, client_id: str, login_name: str
) -> tuple[str, dict[str, Any]]:
    """A browser signed in to the application; its cookie and the token response."""
    request_id = await auth_request(services, client_id, scope="openid offline_access")
    done = await password_sign_in(
        services.login, new_browser_cookie(), login_name, auth_request_id=request_id
    )
    assert isinstance(done.step, Done) and done.browser_cookie
    ctx = services.system_context("test")
    back = await services.auth_requests.issue_code(
        ctx, request_id, browser_cookie=done.browser_cookie
    )
    code = dict(p.split("=", 1) for p in back.location.split("?", 1)[1].split("&"))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": CODE_VERIFIER,
    }
    body = await services.tokens.token(ctx, token_request(services, form))
    assert body["access_token"] and body["refresh_token"]
    return done.browser_cookie, body


def token_request(services: Services, form: dict[str, str]) -> ClientRequest:
    endpoint = services.settings.issuer.rstrip("/") + "/oauth/v2/token"
    return ClientRequest(form=form, basic=None, endpoint=endpoint)


async def test_a_reset_code_sets_the_password_and_ends_all_other_access(
    services: Services, admin: Context, acme: Organization, alice: User, mailbox: Mailbox
) -> None:
    client_id = await portal_app(services, admin, acme)
    elsewhere, tokens = await signed_in_with_tokens(services, client_id, "alice")
    ctx = services.system_context("test")
    assert (await services.tokens.userinfo(ctx, tokens["access_token"]))["sub"] == alice.id
    await mailbox.new()

    browser = new_browser_cookie()
    outcome = await reset_requested(services.login, browser, "alice")
    assert isinstance(outcome.step, SetPassword)
    flow_id = outcome.step.flow.id
    code = (await mailbox.one("alice@example.com")).code
    done = await services.login.set_password_with_code(
        browser, flow_id, code, NEW_PASSWORD, NEW_PASSWORD, META
    )
    assert isinstance(done.step, Done) and done.step.user_id == alice.id
    assert done.browser_cookie and done.browser_cookie != browser
    [session] = await services.sessions.list_browser_sessions(done.browser_cookie)
    assert session.user_id == alice.id

    # Everything that let someone in with the old password has ended.
    assert await services.sessions.list_browser_sessions(elsewhere) == []
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": client_id,
    }
    with pytest.raises(OAuthError) as refused:
        await services.tokens.token(ctx, token_request(services, refresh))
    assert refused.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as rejected:
        await services.tokens.userinfo(ctx, tokens["access_token"])
    assert rejected.value.error == "invalid_token"
    data_dir = services.settings.data_dir
    for table in ("refresh_tokens", "access_tokens"):
        sql = f"SELECT id FROM {table} WHERE user_id = ? AND revoked_at IS NULL"
        live = rows(data_dir, sql, alice.id)
        assert live == [], table

    [changed] = await events_of(services, "user.human.password.changed", alice.id)
    assert changed.actor_id == alice.id and changed.payload["via"] == "reset"
    ended = changed.payload["access_ended"]
    assert (ended["sessions"], ended["refresh_tokens"], ended["access_tokens"]) == (1, 1, 1)
    assert user_row(services, alice.id)["failed_code_attempts"] == 0

    # The old password is refused, the new one works; the code is spent.
    old = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(old.step, AskPassword) and old.step.error is not None
    signed = await password_sign_in_as(services, "alice", NEW_PASSWORD)
    assert isinstance(signed.step, Done)
    assert rows(data_dir, "SELECT count(*) FROM user_codes WHERE user_id = ?", alice.id) == [(0,)]


async def test_a_wrong_reset_code_costs_no_hash_and_password_rules_come_first(
    services: Services, alice: User, mailbox: Mailbox
) -> None:
    hasher = HashCountingHasher(services.hasher)
    login = LoginFlowService(
        services.store,
        hasher,
        services.clock,
        services.sessions,
        services.auth_requests,
        checker=PasswordChecker(services.store, hasher, services.clock),
        codes=CodeMailer(services.master_key, base_url=services.settings.issuer),
    )
    await mailbox.new()
    browser = new_browser_cookie()
    outcome = await reset_requested(login, browser, "alice")
    flow_id = outcome.step.flow.id
    code = (await mailbox.one("alice@example.com")).code
    wrong = other_than(code)
    set_with = login.set_password_with_code

    # The password rules are told first, whatever the code: nothing is counted.
    for typed, password, repeat, expected in (
        (wrong, "weak", "weak", ("password.too_short", "password")),
        (code, "weak", "weak", ("password.too_short", "password")),
        (wrong, NEW_PASSWORD, NEW_PASSWORD + "!", ("password.mismatch", "password_repeat")),
    ):
        refused = await set_with(browser, flow_id, typed, password, repeat, META)
        assert isinstance(refused.step, SetPassword) and refused.step.error is not None
        assert (refused.step.error.code, refused.step.error.field) == expected
        assert refused.step.code == typed  # the code stays in the form
    assert user_row(services, alice.id)["failed_code_attempts"] == 0
    assert await events_of(services, "user.human.code.check.failed", alice.id) == []

    # A wrong code with a good password: refused and counted, and no hash made.
    refused = await set_with(browser, flow_id, wrong, NEW_PASSWORD, NEW_PASSWORD, META)
    assert isinstance(refused.step, SetPassword) and refused.step.error is not None
    assert refused.step.error.code == "code.invalid"
    assert hasher.hashed == 0
    assert user_row(services, alice.id)["failed_code_attempts"] == 1
    [failed] = await events_of(services, "user.human.code.check.failed", alice.id)
    assert failed.payload == {"failures": 1} and failed.actor_id == alice.id

    done = await set_with(browser, flow_id, code, NEW_PASSWORD, NEW_PASSWORD, META)
    assert isinstance(done.step, Done)
    assert hasher.hashed == 1
    assert user_row(services, alice.id)["failed_code_attempts"] == 0


async def test_a_reset_code_stops_working_when_the_address_changes(
    services: Services, admin: Context, alice: User, mailbox: Mailbox
) -> None:
    await mailbox.new()
    browser = new_browser_cookie()
    outcome = await reset_requested(services.login, browser, "alice")
    code = (await mailbox.one("alice@example.com")).code
    await services.users.change_email(admin, alice.id, "alice@new.example", verified=True)
    assert await mailbox.new() == []  # a verified address gets no code
    late = await services.login.set_password_with_code(
        browser, outcome.step.flow.id, code, NEW_PASSWORD, NEW_PASSWORD, META
    )
    assert isinstance(late.step, SetPassword) and late.step.error is not None
    assert late.step.error.code == "code.invalid"
    still = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(still.step, Done)  # the password is unchanged


# --- initialisation ------------------------------------------------------------------


async def test_a_user_created_without_a_password_initialises_with_the_mailed_code(
    services: Services, admin: Context, acme: Organization, mailbox: Mailbox
) -> None:
    await mailbox.new()
    new = NewHumanUser(username="ina", first_name="Ina", last_name="Init", email="ina@example.net")
    ina = await services.users.create_human_user(admin, acme.id, new)
    first = await mailbox.one("ina@example.net")
    assert first.path == USER_INIT_PATH
    assert first.query == {"userID": ina.id, "code": first.code}
    [added] = await events_of(services, "user.human.initialization.code.added", ina.id)
    assert admin.actor is not None and added.actor_id == admin.actor.user_id

    issued = await services.users.issue_init_code(admin, ina.id)
    assert (issued.mailed_to, issued.code, issued.link) == ("ina@example.net", "", "")
    second = await mailbox.one("ina@example.net")
    assert len(await events_of(services, "user.human.initialization.code.added", ina.id)) == 2

    browser = new_browser_cookie()
    opened = await services.login.open_code_link(
        browser, Purpose.INIT, ina.id, first.code, flow_id="", request=META
    )
    step = opened.step
    assert isinstance(step, SetPassword) and step.purpose == "init" and step.code == first.code
    flow_id = step.flow.id
    assert user_row(services, ina.id)["state"] == "initial"  # opening the link changes nothing
    if first.code != second.code:
        stale = await services.login.set_password_with_code(
            browser, flow_id, first.code, NEW_PASSWORD, NEW_PASSWORD, META
        )
        assert isinstance(stale.step, SetPassword) and stale.step.error is not None
        assert stale.step.error.code == "code.invalid"
    done = await services.login.set_password_with_code(
        browser, flow_id, second.code, NEW_PASSWORD, NEW_PASSWORD, META
    )
    assert isinstance(done.step, Done) and done.step.user_id == ina.id and done.browser_cookie
    row = user_row(services, ina.id)
    assert (row["state"], row["email_verified"]) == ("active", 1)
    [changed] = await events_of(services, "user.human.password.changed", ina.id)
    assert changed.payload["via"] == "init" and changed.actor_id == ina.id
    assert len(await events_of(services, "user.human.email.verified", ina.id)) == 1
    signed = await password_sign_in_as(services, "ina", NEW_PASSWORD)
    assert isinstance(signed.step, Done)


async def password_sign_in_as(services: Services, login_name: str, password: str) -> Outcome:
    browser = new_browser_cookie()
    started = await services.login.start(browser, auth_request_id="", request=META)
    await services.login.submit_login_name(browser, started.step.flow.id, login_name)
    return await services.login.submit_password(browser, started.step.flow.id, password, META)


async def test_a_user_with_a_password_gets_no_init_code(
    services: Services, admin: Context, mailbox: Mailbox
) -> None:
    outcome = await register(services.login, new_browser_cookie())
    assert isinstance(outcome.step, VerifyEmail)
    await mailbox.one(RITA.email)
    sql = "SELECT id FROM users WHERE email = ?"
    [user_id] = [str(r[0]) for r in rows(services.settings.data_dir, sql, RITA.email)]
    assert user_row(services, user_id)["state"] == "initial"
    with pytest.raises(PreconditionFailed) as refused:
        await services.users.issue_init_code(admin, user_id)
    assert refused.value.code == "user.password_set"
    assert await mailbox.new() == []
    assert await events_of(services, "user.human.initialization.code.added", user_id) == []


async def test_a_user_without_an_email_gets_the_code_handed_over(
    services: Services, admin: Context, acme: Organization, mailbox: Mailbox
) -> None:
    await mailbox.new()
    new = NewHumanUser(username="nomail", first_name="No", last_name="Mail")
    user = await services.users.create_human_user(admin, acme.id, new)
    assert await mailbox.new() == []
    issued = await services.users.issue_init_code(admin, user.id)
    assert issued.mailed_to == "" and len(issued.code) == 6
    assert f"code={issued.code}" in issued.link and f"userID={user.id}" in issued.link
    assert await mailbox.new() == []
    browser = new_browser_cookie()
    opened = await services.login.open_code_link(
        browser, Purpose.INIT, user.id, issued.code, flow_id="", request=META
    )
    assert isinstance(opened.step, SetPassword)
    done = await services.login.set_password_with_code(
        browser, opened.step.flow.id, issued.code, NEW_PASSWORD, NEW_PASSWORD, META
    )
    assert isinstance(done.step, Done)
    row = user_row(services, user.id)
    assert (row["state"], row["email"], row["email_verified"]) == ("active", "", 0)
    assert await events_of(services, "user.human.email.verified", user.id) == []


# --- how codes are kept -----------------------------------------------------------


async def test_codes_are_kept_as_keyed_digests_one_per_user_and_purpose(
    services: Services, mailbox: Mailbox
) -> None:
    browser = new_browser_cookie()
    outcome = await register(services.login, browser)
    assert isinstance(outcome.step, VerifyEmail)
    codes = [(await mailbox.one(RITA.email)).code]
    reset = await reset_requested(services.login, new_browser_cookie(), RITA.username)
    assert isinstance(reset.step, SetPassword)
    codes.append((await mailbox.one(RITA.email)).code)
    await services.login.resend_code(browser, outcome.step.flow.id, META)
    codes.append((await mailbox.one(RITA.email)).code)

    data_dir = services.settings.data_dir
    stored = rows(data_dir, "SELECT user_id, purpose, digest, target, message_id FROM user_codes")
    assert sorted((str(r[1]), str(r[3])) for r in stored) == [
        ("email", RITA.email),
        ("reset", RITA.email),
    ]
    user_id = str(stored[0][0])
    events = rows(data_dir, "SELECT payload FROM events WHERE aggregate_id = ?", user_id)
    for code in codes:
        plain = {code, code.lower()}
        unkeyed = {hashlib.sha256(c.encode()).hexdigest() for c in plain}
        unkeyed |= {
            hashlib.sha256(f"{purpose}\0{user_id}\0{code}".encode()).hexdigest()
            for purpose in ("email", "reset")
        }
        for row in stored:
            assert not {str(column) for column in row} & (plain | unkeyed)
        assert not any(code in str(payload) for (payload,) in events)
    assert RITA_PASSWORD not in str(events)
