"""Second factors in the core login flow: when the set-up prompt and the check come, what a
set-up writes and shows once, skips, forced MFA, and `prompt=login` asking again."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest

from tests import test_core_sessions as session_tests
from tests.dbfile import rows
from tests.test_core_audit import _events
from tests.test_core_login_flow import META, auth_request, password_sign_in, portal
from tests.test_core_sessions import PASSWORD
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.login.base import MAILS_PER_WINDOW
from zitui.core.login.steps import (
    AskPassword,
    Done,
    Outcome,
    Refused,
    SetUpFactor,
    SetUpTotp,
    ShowRecoveryCodes,
    VerifyFactor,
)
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.errors import NotFound, RateLimited, ReauthRequired
from zitui.records import Organization, User

acme, alice = session_tests.acme, session_tests.alice
HOUR = 3600


async def prompting(services: Services, admin: Context, org_id: str, **changes: object) -> None:
    values = {"mfa_init_skip_lifetime_s": 720 * HOUR, **changes}
    await services.policies.set(admin, "login", values, org_id)


async def set_up(
    services: Services, clock: FixedClock, prompt: Outcome, browser: str
) -> tuple[str, Outcome]:
    """Choose TOTP at the prompt and confirm it: (secret, the step after the confirmation)."""
    assert isinstance(prompt.step, SetUpFactor), prompt.step
    flow_id = prompt.step.flow.id
    setup = await services.login.choose_factor(browser, flow_id, "totp", META)
    assert isinstance(setup.step, SetUpTotp)
    code = pyotp.TOTP(setup.step.secret).at(clock.now())
    return setup.step.secret, await services.login.confirm_totp(browser, flow_id, code, META)


async def test_setting_up_totp_keeps_the_secret_out_of_the_flow_and_shows_codes_once(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    await prompting(services, admin, acme.id)
    prompt = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(prompt.step, SetUpFactor)
    assert prompt.step.kinds == ("totp", "u2f", "passkey") and not prompt.step.forced
    browser = prompt.browser_cookie or ""
    flow_id = prompt.step.flow.id
    setup = await services.login.choose_factor(browser, flow_id, "totp", META)
    assert isinstance(setup.step, SetUpTotp) and setup.step.qr_svg.startswith("<svg")
    sql = "SELECT internal FROM login_flows WHERE id = ?"
    [(internal,)] = rows(services.settings.data_dir, sql, flow_id)
    assert setup.step.secret not in str(internal)
    assert json.loads(str(internal))["pending_totp"]

    # A wrong code: the same secret again (the pending factor's), with the error.
    wrong = await services.login.confirm_totp(browser, flow_id, "123456", META)
    assert isinstance(wrong.step, SetUpTotp) and wrong.step.error is not None
    assert wrong.step.error.code == "mfa.code_invalid"
    assert wrong.step.secret == setup.step.secret

    code = pyotp.TOTP(setup.step.secret).at(clock.now())
    shown = await services.login.confirm_totp(browser, flow_id, code, META)
    assert isinstance(shown.step, ShowRecoveryCodes) and len(shown.step.codes) == 10
    reloaded = await services.login.show(browser, flow_id)
    assert isinstance(reloaded.step, ShowRecoveryCodes) and reloaded.step.codes == ()
    done = await services.login.acknowledge_recovery_codes(browser, flow_id)
    assert isinstance(done.step, Done)
    [session] = await services.sessions.list_browser_sessions(browser)
    assert session.second_factor_checked_at == clock.now()
    assert session.amr == ["pwd", "otp", "mfa"]
    names = {e.event_type for e in await _events(services)}
    assert {"user.human.mfa.otp.added", "user.human.recovery_codes.generated"} <= names


async def test_a_skip_is_remembered_and_a_forced_prompt_refuses_it(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    await prompting(services, admin, acme.id, mfa_init_skip_lifetime_s=HOUR)
    prompt = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(prompt.step, SetUpFactor)
    browser = prompt.browser_cookie or ""
    skipped = await services.login.skip_factor_setup(browser, prompt.step.flow.id, META)
    assert isinstance(skipped.step, Done)
    assert "user.human.mfa.init.skipped" in {e.event_type for e in await _events(services)}
    again = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(again.step, Done)

    await services.policies.set(admin, "login", {"force_mfa": True}, acme.id)
    forced = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(forced.step, SetUpFactor) and forced.step.forced
    browser = forced.browser_cookie or ""
    refused = await services.login.skip_factor_setup(browser, forced.step.flow.id, META)
    assert isinstance(refused.step, SetUpFactor)
    assert refused.step.error is not None and refused.step.error.code == "mfa.forced"


async def test_forced_mfa_without_an_allowed_factor_refuses_the_sign_in(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    changes = {"force_mfa": True, "second_factors": [], "multi_factors": []}
    await services.policies.set(admin, "login", changes, acme.id)
    outcome = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(outcome.step, Refused)
    assert outcome.step.code == "mfa.forced_not_configured"


async def test_the_check_comes_after_its_lifetime_and_again_for_prompt_login(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    await prompting(services, admin, acme.id, second_factor_check_lifetime_s=2 * HOUR)
    prompt = await password_sign_in(services.login, new_browser_cookie(), "alice")
    browser = prompt.browser_cookie or ""
    secret, shown = await set_up(services, clock, prompt, browser)
    assert isinstance(shown.step, ShowRecoveryCodes)
    await services.login.acknowledge_recovery_codes(browser, shown.step.flow.id)

    # Within the lifetime, the same browser signs in to an application with the password only.
    client_id = await portal(services, admin, acme.id)
    clock.advance(timedelta(minutes=5))
    request_id = await auth_request(services, client_id)
    within = await password_sign_in(services.login, browser, "alice", auth_request_id=request_id)
    assert isinstance(within.step, Done)

    # prompt=login asks for the password and the second factor again.
    browser = within.browser_cookie or browser
    clock.advance(timedelta(minutes=1))
    request_id = await auth_request(services, client_id, prompt="login")
    asked = await password_sign_in(services.login, browser, "alice", auth_request_id=request_id)
    assert isinstance(asked.step, VerifyFactor)
    assert asked.step.kinds == ("totp",) and asked.step.recovery_left == 10
    browser = asked.browser_cookie or browser
    clock.advance(timedelta(minutes=1))
    code = pyotp.TOTP(secret).at(clock.now())
    done = await services.login.verify_factor(browser, asked.step.flow.id, code, META)
    assert isinstance(done.step, Done)

    # Past the lifetime, a sign-in without any request asks too.
    clock.advance(timedelta(hours=3))
    late = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(late.step, VerifyFactor)


async def test_linking_a_session_needs_its_second_factor_whoever_links(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    await prompting(services, admin, acme.id, second_factor_check_lifetime_s=HOUR)
    prompt = await password_sign_in(services.login, new_browser_cookie(), "alice")
    browser = prompt.browser_cookie or ""
    _, shown = await set_up(services, clock, prompt, browser)
    await services.login.acknowledge_recovery_codes(browser, shown.step.flow.id)
    [session] = await services.sessions.list_browser_sessions(browser)
    client_id = await portal(services, admin, acme.id)
    await services.auth_requests.link_session(await auth_request(services, client_id), session.id)

    clock.advance(timedelta(hours=2))
    fresh = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    request_id = await auth_request(services, client_id)
    with pytest.raises(ReauthRequired) as raised:
        await services.auth_requests.link_session(request_id, fresh.id)
    assert raised.value.code == "auth_request.second_factor_required"


async def test_codes_by_email_are_sent_a_few_times_per_window(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    """Choosing "Code by email" at the prompt sends the first mail; "Send a new code" more,
    but together only as many per window as the resends of registration."""
    await prompting(services, admin, acme.id, second_factors=["otp", "otp_email"])
    prompt = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(prompt.step, SetUpFactor) and "otp_email" in prompt.step.kinds
    assert prompt.browser_cookie is not None  # a new browser id after the password
    browser, flow_id = prompt.browser_cookie, prompt.step.flow.id
    chosen = await services.login.choose_factor(browser, flow_id, "otp_email", META)
    assert isinstance(chosen.step, VerifyFactor) and chosen.step.current == "otp_email"
    resent = 0
    with pytest.raises(RateLimited):
        for _ in range(MAILS_PER_WINDOW + 1):
            asked = await services.login.use_factor(browser, flow_id, "otp_email", META)
            assert isinstance(asked.step, VerifyFactor)
            resent += 1
    assert resent == MAILS_PER_WINDOW - 1
    sql = "SELECT count(*) FROM outbox WHERE kind = 'otp.email'"
    assert rows(services.settings.data_dir, sql) == [(MAILS_PER_WINDOW,)]


async def test_a_signed_in_user_adds_factors_and_proves_the_password_again_after_a_while(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
) -> None:
    """No prompt at sign-in (the default skip lifetime of the tests is 0); the signed-in page
    adds a factor: the prompt at once within ten minutes of the password, else the password
    (and the second factor when due) first. "Skip" there remembers nothing."""
    done = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(done.step, Done)
    browser = done.browser_cookie or ""
    [session] = await services.sessions.list_browser_sessions(browser)

    prompt = await services.login.start_adding_factor(browser, session.id, META)
    assert isinstance(prompt.step, SetUpFactor) and not prompt.step.forced
    assert prompt.step.kinds == ("totp", "u2f", "passkey")
    _, shown = await set_up(services, clock, prompt, browser)
    assert isinstance(shown.step, ShowRecoveryCodes) and len(shown.step.codes) == 10
    finished = await services.login.acknowledge_recovery_codes(browser, prompt.step.flow.id)
    assert isinstance(finished.step, Done) and not finished.step.flow.auth_request_id

    # One app per user: the next addition offers security keys and passkeys only.
    again = await services.login.start_adding_factor(browser, session.id, META)
    assert isinstance(again.step, SetUpFactor) and again.step.kinds == ("u2f", "passkey")
    tampered = await services.login.choose_factor(browser, again.step.flow.id, "totp", META)
    assert isinstance(tampered.step, SetUpFactor) and tampered.step.error is not None
    skipped = await services.login.skip_factor_setup(browser, again.step.flow.id, META)
    assert isinstance(skipped.step, Done)
    assert "user.human.mfa.init.skipped" not in {e.event_type for e in await _events(services)}

    clock.advance(timedelta(minutes=11))
    later = await services.login.start_adding_factor(browser, session.id, META)
    assert isinstance(later.step, AskPassword) and later.step.login_name == session.login_name
    flow_id = later.step.flow.id
    proven = await services.login.submit_password(browser, flow_id, PASSWORD, META)
    assert isinstance(proven.step, SetUpFactor) and proven.step.kinds == ("u2f", "passkey")

    with pytest.raises(NotFound):
        await services.login.start_adding_factor(new_browser_cookie(), session.id, META)


async def test_a_page_of_this_server_gets_the_account_back_after_a_fresh_password(
    services: Services, alice: User, clock: FixedClock
) -> None:
    """The account pages send an account to prove its password again and get it back."""
    done = await password_sign_in(services.login, new_browser_cookie(), "alice")
    browser = done.browser_cookie or ""
    [session] = await services.sessions.list_browser_sessions(browser)
    clock.advance(timedelta(minutes=30))
    asked = await services.login.start_reauth(
        browser, session.id, META, return_to="/ui/console/users/me/security"
    )
    assert isinstance(asked.step, AskPassword) and asked.step.login_name == session.login_name
    proven = await services.login.submit_password(browser, asked.step.flow.id, PASSWORD, META)
    assert isinstance(proven.step, Done)
    assert proven.step.redirect_uri == "/ui/console/users/me/security"
    [again] = await services.sessions.list_browser_sessions(proven.browser_cookie or "")
    assert again.id == session.id and again.password_checked_at == clock.now()

    # Only a path of this server: anything else ends as a flow without an application does.
    elsewhere = await services.login.start_reauth(
        proven.browser_cookie or "", session.id, META, return_to="//evil.example/x"
    )
    assert isinstance(elsewhere.step, AskPassword)
    out = await services.login.submit_password(
        proven.browser_cookie or "", elsewhere.step.flow.id, PASSWORD, META
    )
    assert isinstance(out.step, Done) and out.step.redirect_uri == ""
