"""`amr` and `acr` in the ID token, through the real hosted pages and authlib's OAuth 2.0
client: a TOTP sign-in says `pwd otp mfa`, `acr_values=mfa` makes the flow ask for a second
factor the policy does not force, `prompt=login` and `max_age=0` ask for it again,
`prompt=none` refuses what it cannot meet, a passkey alone is multi-factor, and discovery
lists the classes."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pyotp
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, World
from tests.test_login_mfa_pages import RECOVERY, set_up_totp
from tests.test_oidc_code_flow import oauth_client
from tests.test_oidc_login_pages import follow, form
from zitui.core.context import RequestMeta
from zitui.core.credentials import user_context
from zitui.core.crypto import tokens
from zitui.core.ids import new_id
from zitui.core.sessions import new_browser_cookie, start_passkey_session
from zitui.records import User
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world

NONCE = "n-acr-0S6_WzA2Mj"
STEP = timedelta(seconds=30)  # one TOTP time step: a code counts once per step


def browser_of(harness: Harness) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=harness.transport, base_url=harness.issuer)


async def ready_totp(harness: Harness, user: User) -> str:
    """A TOTP factor made through FactorService, confirmed with the code of the step before
    now (so now's code is still free for a sign-in); its secret."""
    services = harness.services
    ctx = user_context(services.clock, user, RequestMeta(origin="test"))
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, ctx, user, issuer="zitui")
    code = pyotp.TOTP(setup.secret).at(services.clock.now() - STEP)
    async with services.store.transaction() as tx:
        assert await services.factors.confirm_totp(tx, ctx, user, setup.factor_id, code)
    return setup.secret


def authorization_url(harness: Harness, oauth: AsyncOAuth2Client, **extra: str) -> str:
    url, _ = oauth.create_authorization_url(
        harness.url(paths.AUTHORIZE),
        redirect_uri=fx.WEB_CALLBACK,
        scope="openid offline_access",
        nonce=NONCE,
        **extra,
    )
    return str(url)


async def password_pages(browser: httpx2.AsyncClient, url: str, login_name: str) -> httpx2.Response:
    """The application's authorization URL, the account (the browser's one) or the login
    name when asked, and the password: the page (or the redirect to the application) next."""
    page = await follow(browser, await browser.get(url))
    assert page.status_code == 200, page.text
    if f'action="{paths.LOGIN_USER_SELECTION}"' in page.text:
        account = form(page.text, paths.LOGIN_USER_SELECTION)
        page = await browser.post(paths.LOGIN_USER_SELECTION, data=account)
    elif f'action="{paths.LOGIN_NAME}"' in page.text:
        name_form = form(page.text, paths.LOGIN_NAME)
        page = await browser.post(paths.LOGIN_NAME, data={**name_form, "login_name": login_name})
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    response = await browser.post(
        paths.LOGIN_PASSWORD, data={**password_form, "password": fx.PASSWORD}
    )
    return await follow(browser, response)


async def prove_totp(
    harness: Harness, browser: httpx2.AsyncClient, page: httpx2.Response, secret: str
) -> httpx2.Response:
    """The second-factor page, answered with now's code: the redirect to the application."""
    assert f'action="{paths.LOGIN_MFA_VERIFY}"' in page.text, page.text
    code = pyotp.TOTP(secret).at(harness.services.clock.now())
    fields = {**form(page.text, paths.LOGIN_MFA_VERIFY), "code": code}
    return await follow(browser, await browser.post(paths.LOGIN_MFA_VERIFY, data=fields))


async def id_token_of(
    harness: Harness, oauth: AsyncOAuth2Client, back: httpx2.Response
) -> tuple[dict[str, object], dict[str, object]]:
    """The code the application received, exchanged by authlib: (token response, ID token)."""
    assert back.status_code in (302, 303), back.text
    location = back.headers["location"]
    assert location.startswith(fx.WEB_CALLBACK), location
    token = await oauth.fetch_token(
        harness.url(paths.TOKEN), authorization_response=location, redirect_uri=fx.WEB_CALLBACK
    )
    return dict(token), await harness.verify(token["id_token"], nonce=NONCE)


async def test_a_totp_sign_in_says_pwd_otp_mfa_and_a_refresh_keeps_it(
    harness: Harness, world: World
) -> None:
    secret = await ready_totp(harness, world.alice)
    async with oauth_client(harness, world.clients["basic"]) as oauth, browser_of(harness) as b:
        verify = await password_pages(b, authorization_url(harness, oauth), world.alice.login_name)
        back = await prove_totp(harness, b, verify, secret)
        token, claims = await id_token_of(harness, oauth, back)
        assert claims["amr"] == ["pwd", "otp", "mfa"]
        assert "acr" not in claims  # no acr_values asked

        refreshed = await oauth.refresh_token(harness.url(paths.TOKEN))
        again = await harness.verify(refreshed["id_token"])
        assert again["amr"] == claims["amr"] and again["auth_time"] == claims["auth_time"]
        assert refreshed["refresh_token"] != token["refresh_token"]


async def test_acr_values_mfa_asks_for_a_second_factor_the_policy_does_not_force(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    # Without acr_values the policy asks for nothing after the password.
    async with oauth_client(harness, client) as oauth, browser_of(harness) as b:
        url = authorization_url(harness, oauth, acr_values="pwd")
        _, claims = await id_token_of(harness, oauth, await password_pages(b, url, "alice"))
        assert claims["amr"] == ["pwd"] and claims["acr"] == "pwd"

    async with oauth_client(harness, client) as oauth, browser_of(harness) as b:
        url = authorization_url(harness, oauth, acr_values="urn:example:gold mfa")
        prompt = await password_pages(b, url, world.alice.login_name)
        assert f'action="{paths.LOGIN_MFA_PROMPT}"' in prompt.text, prompt.text
        assert 'id="skip"' not in prompt.text
        skip = {**form(prompt.text, paths.LOGIN_MFA_PROMPT), "skip": "1"}
        refused = await b.post(paths.LOGIN_MFA_PROMPT, data=skip)
        assert refused.status_code == 412, refused.text

        _, codes_page = await set_up_totp(harness, b, prompt)
        assert len(RECOVERY.findall(codes_page.text)) == 10
        go_on = form(codes_page.text, paths.LOGIN_MFA_RECOVERY_CODES)
        back = await follow(b, await b.post(paths.LOGIN_MFA_RECOVERY_CODES, data=go_on))
        _, claims = await id_token_of(harness, oauth, back)
        assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == "mfa"


async def test_prompt_login_and_max_age_zero_ask_for_the_second_factor_again(
    harness: Harness, world: World
) -> None:
    secret = await ready_totp(harness, world.alice)
    moved = harness.services.clock.advance  # type: ignore[attr-defined]
    async with oauth_client(harness, world.clients["basic"]) as oauth, browser_of(harness) as b:
        first = await password_pages(b, authorization_url(harness, oauth), "alice")
        _, claims = await id_token_of(harness, oauth, await prove_totp(harness, b, first, secret))

        for fresh in ({"prompt": "login"}, {"max_age": "0"}):
            moved(STEP)
            url = authorization_url(harness, oauth, acr_values="mfa", **fresh)
            verify = await password_pages(b, url, world.alice.login_name)
            back = await prove_totp(harness, b, verify, secret)
            _, again = await id_token_of(harness, oauth, back)
            assert again["amr"] == ["pwd", "otp", "mfa"] and again["acr"] == "mfa", fresh
            assert int(str(again["auth_time"])) > int(str(claims["auth_time"])), fresh
            claims = again


async def test_prompt_none_refuses_a_class_the_session_cannot_meet(
    harness: Harness, world: World
) -> None:
    async with oauth_client(harness, world.clients["basic"]) as oauth, browser_of(harness) as b:
        await id_token_of(
            harness, oauth, await password_pages(b, authorization_url(harness, oauth), "alice")
        )
        silent = await b.get(authorization_url(harness, oauth, prompt="none", acr_values="mfa"))
        assert fx.query_of(silent.headers["location"])["error"] == "interaction_required"

        silent = await b.get(authorization_url(harness, oauth, prompt="none", acr_values="pwd"))
        _, claims = await id_token_of(harness, oauth, silent)
        assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"]

    # With a second factor proven, the same silent request meets `mfa`.
    secret = await ready_totp(harness, world.bob)
    async with oauth_client(harness, world.clients["basic"]) as oauth, browser_of(harness) as b:
        verify = await password_pages(b, authorization_url(harness, oauth), "bob")
        await id_token_of(harness, oauth, await prove_totp(harness, b, verify, secret))
        silent = await b.get(authorization_url(harness, oauth, prompt="none", acr_values="mfa"))
        _, claims = await id_token_of(harness, oauth, silent)
        assert claims["acr"] == "mfa" and claims["amr"] == ["pwd", "otp", "mfa"]


async def test_a_passkey_alone_signs_in_as_multi_factor(harness: Harness, world: World) -> None:
    """The session a verified passkey assertion starts (the WebAuthn check itself is
    `test_core_webauthn.py`'s): no password, and `acr_values=mfa` is met."""
    services = harness.services
    async with services.store.transaction() as tx:
        assert await tx.factors.insert_credential(
            new_id(),
            world.alice.id,
            "passkey",
            name="Laptop",
            credential_id="credential-1",
            public_key="pQECAyYgASFYIA",
            sign_count=0,
            transports=["internal"],
            at=services.clock.now(),
        )
    async with oauth_client(harness, world.clients["basic"]) as oauth:
        response = await harness.http.get(authorization_url(harness, oauth, acr_values="mfa"))
        auth_request_id = fx.login_redirect_id(response)
        cookie = new_browser_cookie()
        async with services.store.transaction() as tx:
            session = await start_passkey_session(
                tx, services.clock, tokens.digest(cookie), world.alice, RequestMeta(origin="test")
            )
        await services.auth_requests.link_session(auth_request_id, session.id)
        back = await harness.callback(auth_request_id, cookie=cookie)
        _, claims = await id_token_of(harness, oauth, back)
    assert claims["amr"] == ["hwk", "user", "mfa"] and claims["acr"] == "mfa"
    assert claims["sid"] == session.id


async def test_discovery_lists_the_classes_and_the_acr_claim(harness: Harness) -> None:
    document = (await harness.http.get(paths.DISCOVERY)).json()
    assert document["acr_values_supported"] == ["pwd", "mfa"]
    assert {"acr", "amr"} <= set(document["claims_supported"])
