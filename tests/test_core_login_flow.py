"""The core login flow: one call per page, typed steps, the one reuse rule, and what a
successful sign-in writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests import test_core_sessions as session_tests
from tests.conftest import ADMIN_PASSWORD
from tests.counting import CountingStore
from tests.dbfile import rows
from tests.test_core_audit import _events
from tests.test_core_sessions import PASSWORD, add_human
from tests.test_login_auth_requests import REDIRECT_URI, authorize_params
from zitui.core.apps import NewOidcApp
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import PasswordChecker
from zitui.core.login.base import FLOW_LIFETIME
from zitui.core.login.flows import LoginFlowService
from zitui.core.login.steps import (
    AskLoginName,
    AskPassword,
    ChangePassword,
    ChooseAccount,
    Done,
    Outcome,
)
from zitui.core.oidc.auth_requests import AuthRequestService
from zitui.core.oidc.authorization_request import AuthorizeParams
from zitui.core.oidc.issuance import Lifetimes
from zitui.core.oidc.responses import Redirect, ToLogin
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services
from zitui.core.sessions import PASSWORD_CHANGE_WINDOW, new_browser_cookie
from zitui.errors import FlowExpired, NotFound, RateLimited, ReauthRequired
from zitui.records import AppType, AuthMethod, FlowStep, Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
META = RequestMeta(origin="test", ip="192.0.2.7", user_agent="pytest")


async def portal(services: Services, admin: Context, org_id: str) -> str:
    project = await services.projects.create_project(admin, org_id, "Portal")
    new = NewOidcApp(
        name="Portal",
        app_type=AppType.WEB,
        auth_method=AuthMethod.NONE,
        redirect_uris=[REDIRECT_URI],
        dev_mode=True,
    )
    app, _ = await services.apps.create_oidc_app(admin, project.id, new)
    return app.client_id


async def authorize(
    services: Services, client_id: str, *, browser: str = "", **extra: str
) -> ToLogin | Redirect:
    values = authorize_params(client_id, **extra)
    return await services.auth_requests.authorize(
        services.system_context("test"), AuthorizeParams(values), browser_cookie=browser
    )


async def auth_request(services: Services, client_id: str, **extra: str) -> str:
    answer = await authorize(services, client_id, **extra)
    assert isinstance(answer, ToLogin), answer
    return answer.auth_request_id


async def password_sign_in(
    login: LoginFlowService, browser: str, login_name: str, *, auth_request_id: str = ""
) -> Outcome:
    """Start, type the login name (via "another account" if the browser lists accounts),
    then the password."""
    started = await login.start(browser, auth_request_id=auth_request_id, request=META)
    flow_id = started.step.flow.id
    named = await login.submit_login_name(browser, flow_id, login_name)
    assert isinstance(named.step, AskPassword), named.step
    return await login.submit_password(browser, flow_id, PASSWORD, META)


async def test_a_password_sign_in_writes_twice_after_the_check(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    """One transaction signs in and links the request, one more issues the code."""
    counting = CountingStore(services.store)
    lifetimes = Lifetimes.from_settings(services.settings)
    issuer = services.settings.issuer
    auth_requests = AuthRequestService(
        counting, services.keys, services.sessions, services.clock, issuer=issuer,
        lifetimes=lifetimes,
    )  # fmt: skip
    # The password check itself (with the throttle's reservation before it) is not counted.
    checker = PasswordChecker(services.store, services.hasher, services.clock)
    login = LoginFlowService(counting, services.hasher, services.clock, services.sessions,
                             auth_requests, checker=checker)  # fmt: skip
    request_id = await auth_request(services, await portal(services, admin, acme.id))
    browser = new_browser_cookie()
    started = await login.start(browser, auth_request_id=request_id, request=META)
    assert isinstance(started.step, AskLoginName)
    flow_id = started.step.flow.id
    await login.submit_login_name(browser, flow_id, "alice")

    counting.transactions = 0
    done = await login.submit_password(browser, flow_id, PASSWORD, META)
    assert isinstance(done.step, Done) and done.browser_cookie
    back = await auth_requests.issue_code(
        services.system_context("test"), request_id, browser_cookie=done.browser_cookie
    )
    assert "code=" in back.location
    # The throttle's reservation comes before the check; after it, exactly two writes.
    assert counting.transactions == 2


async def test_a_sign_in_gives_the_browser_a_new_id(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    """Session fixation: an id planted in the browser before sign-in is worth nothing after."""
    await add_human(services, admin, acme.id, "bob")
    planted = new_browser_cookie()
    first = await password_sign_in(services.login, planted, "alice")
    assert isinstance(first.step, Done)
    after_alice = first.browser_cookie
    assert after_alice and after_alice != planted
    assert await services.sessions.list_browser_sessions(planted) == []

    second = await password_sign_in(services.login, after_alice, "bob")
    after_bob = second.browser_cookie
    assert after_bob and after_bob not in {planted, after_alice}
    # The browser's sessions moved with it: both accounts, under the newest id only.
    listed = await services.sessions.list_browser_sessions(after_bob)
    assert {s.login_name.split("@")[0] for s in listed} == {"alice", "bob"}
    assert await services.sessions.list_browser_sessions(after_alice) == []


async def test_a_flow_belongs_to_its_browser_and_expires(
    services: Services, clock: FixedClock, alice: User
) -> None:
    browser = new_browser_cookie()
    started = await services.login.start(browser, auth_request_id="", request=META)
    flow_id = started.step.flow.id
    with pytest.raises(NotFound):
        await services.login.show(new_browser_cookie(), flow_id)
    with pytest.raises(NotFound):
        await services.login.submit_login_name(new_browser_cookie(), flow_id, "alice")
    assert isinstance((await services.login.show(browser, flow_id)).step, AskLoginName)
    clock.advance(FLOW_LIFETIME)
    with pytest.raises(FlowExpired):
        await services.login.show(browser, flow_id)


async def test_wrong_passwords_are_counted_on_the_flow(services: Services, alice: User) -> None:
    browser = new_browser_cookie()
    started = await services.login.start(browser, auth_request_id="", request=META)
    flow_id = started.step.flow.id
    await services.login.submit_login_name(browser, flow_id, "alice")
    for _ in range(2):
        wrong = await services.login.submit_password(browser, flow_id, "Wrong-Pass-1!", META)
        assert isinstance(wrong.step, AskPassword)
        assert wrong.step.error is not None and wrong.step.error.code == "auth.bad_credentials"
        assert wrong.browser_cookie is None
    async with services.store.reader() as tx:
        stored = await tx.login_flows.find(flow_id)
    assert stored is not None and stored.attempts == {"password": 2}
    assert stored.step is FlowStep.PASSWORD and stored.user_id is None


async def test_the_account_list_and_prompt_none_follow_one_rule(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    client_id = await portal(services, admin, acme.id)
    browser = (await password_sign_in(services.login, new_browser_cookie(), "alice")).browser_cookie
    assert browser
    clock.advance(timedelta(minutes=5))
    for max_age, reused in (("60", False), ("600", True)):
        request_id = await auth_request(services, client_id, max_age=max_age)
        listing = await services.login.start(browser, auth_request_id=request_id, request=META)
        assert isinstance(listing.step, ChooseAccount)
        assert [a.signed_in for a in listing.step.accounts] == [reused]
        silent = await authorize(services, client_id, browser=browser, prompt="none",
                                 max_age=max_age)  # fmt: skip
        assert isinstance(silent, Redirect)
        assert ("code=" in silent.location) is reused
        assert ("error=login_required" in silent.location) is not reused


async def test_choosing_an_account_needs_the_password_only_when_the_rule_says_so(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    client_id = await portal(services, admin, acme.id)
    browser = (await password_sign_in(services.login, new_browser_cookie(), "alice")).browser_cookie
    assert browser
    sessions = await services.sessions.list_browser_sessions(browser)
    clock.advance(timedelta(minutes=1))
    request_id = await auth_request(services, client_id, prompt="login")
    started = await services.login.start(browser, auth_request_id=request_id, request=META)
    assert isinstance(started.step, AskLoginName)  # prompt=login: no account list
    chosen = await services.login.choose_account(
        browser, started.step.flow.id, sessions[0].id, META
    )
    assert isinstance(chosen.step, AskPassword)
    assert chosen.step.login_name == sessions[0].login_name
    done = await services.login.submit_password(browser, started.step.flow.id, PASSWORD, META)
    assert isinstance(done.step, Done)


async def test_a_required_change_sets_the_new_password_once(
    services: Services, admin: Context, acme: Organization
) -> None:
    carol = await add_human(services, admin, acme.id, "carol", password_change_required=True)
    elsewhere = await password_sign_in(services.login, new_browser_cookie(), "carol")
    assert isinstance(elsewhere.step, ChangePassword)
    outcome = await password_sign_in(services.login, new_browser_cookie(), "carol")
    assert isinstance(outcome.step, ChangePassword) and outcome.browser_cookie
    browser, flow_id = outcome.browser_cookie, outcome.step.flow.id
    change = services.login.change_password
    for new, repeat, code, field in (
        ("short", "short", "password.too_short", "new_password"),
        (PASSWORD, PASSWORD, "password.unchanged", "new_password"),
        ("Carol-New-2!", "Carol-New-3!", "password.mismatch", "new_password_repeat"),
    ):
        refused = await change(browser, flow_id, new, repeat, META)
        assert isinstance(refused.step, ChangePassword)
        assert refused.step.error is not None
        assert (refused.step.error.code, refused.step.error.field) == (code, field)
    with pytest.raises(NotFound):
        await change(new_browser_cookie(), flow_id, "Carol-New-2!", "Carol-New-2!", META)

    done = await change(browser, flow_id, "Carol-New-2!", "Carol-New-2!", META)
    assert isinstance(done.step, Done)
    event = (await _events(services))[0]
    assert (event.event_type, event.aggregate_id, event.actor_id) == (
        "user.human.password.changed",
        carol.id,
        carol.id,
    )
    assert event.payload["change_required"] is False
    # Credential changes end access: the sign-in on the other browser is over.
    assert elsewhere.browser_cookie
    assert await services.sessions.list_browser_sessions(elsewhere.browser_cookie) == []
    assert len(await services.sessions.list_browser_sessions(browser)) == 1
    again = await change(browser, flow_id, "Carol-New-3!", "Carol-New-3!", META)
    assert isinstance(again.step, Done)  # the flow is finished; nothing changes twice
    assert (await _events(services))[0].id == event.id


async def test_a_required_change_needs_a_fresh_password_check(
    services: Services, admin: Context, acme: Organization, clock: FixedClock
) -> None:
    await add_human(services, admin, acme.id, "carol", password_change_required=True)
    outcome = await password_sign_in(services.login, new_browser_cookie(), "carol")
    assert outcome.browser_cookie
    clock.advance(PASSWORD_CHANGE_WINDOW + timedelta(seconds=1))
    late = await services.login.change_password(
        outcome.browser_cookie, outcome.step.flow.id, "Carol-New-2!", "Carol-New-2!", META
    )
    assert isinstance(late.step, AskPassword)
    assert isinstance(late.step.error, ReauthRequired)
    assert (await _events(services))[0].event_type != "user.human.password.changed"


async def test_the_console_signs_in_through_the_same_password_step(
    services: Services, admin: Context, acme: Organization
) -> None:
    login = await services.auth.login_operator("admin", ADMIN_PASSWORD, META)
    stored = rows(
        services.settings.data_dir,
        "SELECT kind, browser_digest, user_id, step, checks FROM login_flows"
        " WHERE kind = 'console' ORDER BY id DESC LIMIT 1",
    )
    kind, browser, user_id, step, checks = stored[0]
    assert (kind, browser, user_id, step) == ("console", "", login.user.id, "done")
    assert "password" in str(checks)
    event = (await _events(services))[0]
    assert event.event_type == "user.human.password.check.succeeded"
    assert event.aggregate_id == login.user.id


async def test_open_flows_are_capped_per_address(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = replace_cap(services, 2)
    for _ in range(2):
        await login.start(new_browser_cookie(), auth_request_id="", request=META)
    with pytest.raises(RateLimited) as caught:
        await login.start(new_browser_cookie(), auth_request_id="", request=META)
    assert caught.value.retry_after > 0
    other = replace(META, ip="198.51.100.1")
    await login.start(new_browser_cookie(), auth_request_id="", request=other)


async def test_finished_flows_do_not_count_against_the_address(
    services: Services, alice: User
) -> None:
    """An office behind one address signs in all day: only unfinished flows count."""
    login = replace_cap(services, 1)
    for _ in range(3):
        browser = new_browser_cookie()
        started = await login.start(browser, auth_request_id="", request=META)
        await login.submit_login_name(browser, started.step.flow.id, "alice")
        done = await login.submit_password(browser, started.step.flow.id, PASSWORD, META)
        assert isinstance(done.step, Done)


def replace_cap(services: Services, cap: int) -> LoginFlowService:
    return LoginFlowService(
        services.store,
        services.hasher,
        services.clock,
        services.sessions,
        services.auth_requests,
        max_open_flows_per_address=cap,
    )


async def test_the_login_name_step_never_tells_whether_a_user_exists(
    services: Services, alice: User
) -> None:
    browser = new_browser_cookie()
    answers = []
    for typed in (" alice ", "nobody"):
        started = await services.login.start(browser, auth_request_id="", request=META)
        named = await services.login.submit_login_name(browser, started.step.flow.id, typed)
        assert isinstance(named.step, AskPassword) and named.step.error is None
        answers.append(named.step.login_name)
    assert answers == ["alice", "nobody"]
    for typed, code in (("   ", "login.name_required"), ("al ice", "login.name_invalid")):
        started = await services.login.start(browser, auth_request_id="", request=META)
        refused = await services.login.submit_login_name(browser, started.step.flow.id, typed)
        assert isinstance(refused.step, AskLoginName) and refused.step.error is not None
        assert (refused.step.error.code, refused.step.error.field) == (code, "login_name")


async def test_a_policy_without_passwords_refuses_the_login_name_step(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    await session_tests.set_policy(
        services, "login", acme.id, LoginPolicy(allow_username_password=False)
    )
    client_id = await portal(services, admin, acme.id)
    scope = f"openid urn:zitadel:iam:org:id:{acme.id}"
    scoped = await auth_request(services, client_id, scope=scope)
    browser = new_browser_cookie()
    started = await services.login.start(browser, auth_request_id=scoped, request=META)
    named = await services.login.submit_login_name(browser, started.step.flow.id, "alice")
    assert isinstance(named.step, AskLoginName) and named.step.error is not None
    assert named.step.error.code == "login.password_not_allowed"
