"""Domain discovery in the core login flow: a login name's verified domain leads an unscoped
sign-in to its organisation, and to its registration when nobody signs in with the name."""

from __future__ import annotations

from tests import test_core_sessions as session_tests
from tests.test_core_login_flow import META, auth_request, portal
from tests.test_core_sessions import PASSWORD, add_human
from zitui.core.context import Context
from zitui.core.login.steps import AskPassword, Done, Outcome, Register, Registration
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.records import Organization, User

acme = session_tests.acme  # "Acme", with the verified generated domain acme.localhost
NEW_PASSWORD = "Nina-Pass-7?"


async def named(services: Services, browser: str, login_name: str, request_id: str = "") -> Outcome:
    started = await services.login.start(browser, auth_request_id=request_id, request=META)
    return await services.login.submit_login_name(browser, started.step.flow.id, login_name)


async def test_an_unknown_name_at_a_discovering_domain_registers_in_that_organisation(
    services: Services, acme: Organization
) -> None:
    browser = new_browser_cookie()
    name = f"nina@{acme.primary_domain}"
    answer = await named(services, browser, name)
    assert isinstance(answer.step, Register), answer.step
    assert answer.step.flow.org_id == acme.id
    assert answer.step.values.email == name
    values = Registration(given_name="Nina", family_name="Example", email=name, accepted_terms=True)
    flow_id = answer.step.flow.id
    await services.login.register(browser, flow_id, values, NEW_PASSWORD, NEW_PASSWORD, META)
    async with services.store.reader() as tx:
        listed, _ = await tx.users.list(org_ids=None, search=name, offset=0, limit=5)
    assert [(u.email, u.org_id) for u in listed] == [(name, acme.id)]


async def test_a_user_of_the_discovered_organisation_signs_in_there(
    services: Services, admin: Context, acme: Organization
) -> None:
    await add_human(services, admin, acme.id, "bert")
    browser = new_browser_cookie()
    answer = await named(services, browser, f"bert@{acme.primary_domain}")
    assert isinstance(answer.step, AskPassword) and answer.step.flow.org_id == acme.id
    done = await services.login.submit_password(browser, answer.step.flow.id, PASSWORD, META)
    assert isinstance(done.step, Done)


async def test_a_user_of_another_organisation_keeps_the_unscoped_sign_in(
    services: Services, admin: Context, acme: Organization
) -> None:
    instance = await services.instance.get_instance(admin)
    name = f"carl@{acme.primary_domain}"  # an email username, in the default organisation
    await add_human(services, admin, instance.default_org_id, name)
    browser = new_browser_cookie()
    answer = await named(services, browser, name)
    assert isinstance(answer.step, AskPassword) and answer.step.flow.org_id == ""
    done = await services.login.submit_password(browser, answer.step.flow.id, PASSWORD, META)
    assert isinstance(done.step, Done)


async def test_without_registration_an_unknown_name_gets_the_password_page_of_the_organisation(
    services: Services, admin: Context, acme: Organization
) -> None:
    await session_tests.set_policy(services, "login", acme.id, LoginPolicy(allow_register=False))
    await add_human(services, admin, acme.id, "bert")
    browser = new_browser_cookie()
    unknown = await named(services, browser, f"nobody@{acme.primary_domain}")
    known = await named(services, browser, f"bert@{acme.primary_domain}")
    for answer in (unknown, known):
        assert isinstance(answer.step, AskPassword) and answer.step.error is None
        assert answer.step.flow.org_id == acme.id


async def test_discovery_needs_the_policy_a_verified_domain_and_no_requested_organisation(
    services: Services, admin: Context, acme: Organization
) -> None:
    await services.orgs.add_domain(admin, acme.id, "acme.example")  # not verified
    browser = new_browser_cookie()
    unverified = await named(services, browser, "nina@acme.example")
    client_id = await portal(services, admin, acme.id)
    instance = await services.instance.get_instance(admin)
    scope = f"openid urn:zitadel:iam:org:id:{instance.default_org_id}"
    scoped_id = await auth_request(services, client_id, scope=scope)
    scoped = await named(services, browser, f"nina@{acme.primary_domain}", scoped_id)
    await session_tests.set_policy(
        services, "login", acme.id, LoginPolicy(allow_domain_discovery=False)
    )
    turned_off = await named(services, browser, f"nina@{acme.primary_domain}")
    assert isinstance(unverified.step, AskPassword) and unverified.step.flow.org_id == ""
    assert isinstance(scoped.step, AskPassword)
    assert scoped.step.flow.org_id == instance.default_org_id
    assert isinstance(turned_off.step, AskPassword) and turned_off.step.flow.org_id == ""


async def test_another_name_after_a_discovery_starts_unscoped_again(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    browser = new_browser_cookie()
    first = await named(services, browser, f"nina@{acme.primary_domain}")
    assert isinstance(first.step, Register)
    back = await services.login.ask_login_name(browser, first.step.flow.id)
    assert back.step.flow.org_id == ""
    again = await services.login.submit_login_name(browser, first.step.flow.id, "nobody")
    assert isinstance(again.step, AskPassword) and again.step.flow.org_id == ""


alice = session_tests.alice
