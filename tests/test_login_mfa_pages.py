"""Second factors through the real hosted login pages: the set-up prompt after the password,
TOTP set-up from the secret the page shows, the recovery codes shown once, the check at the
next sign-in, the ID token's `amr`, and `prompt=none` with a stale second factor."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import unquote

import httpx2
import pyotp

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, World
from tests.test_oidc_login_pages import follow, form
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
RECOVERY = re.compile(r"<li><code>([A-Z0-9-]+)</code></li>")


def client_of(harness: Harness) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=harness.transport, base_url=harness.issuer)


async def prompt_after_skip_lifetime(harness: Harness, world: World, **changes: object) -> None:
    """The organisation's login policy with the MFA prompt on (ZITADEL's default 720 h)."""
    values = {"mfa_init_skip_lifetime_s": 720 * 3600, **changes}
    await harness.services.policies.set(world.admin, "login", values, world.org_id)


async def password_pages(
    browser: httpx2.AsyncClient, params: dict[str, str], login_name: str
) -> httpx2.Response:
    """Authorize, the login name and the password: the page that comes next."""
    page = await follow(browser, await browser.get(paths.AUTHORIZE, params=params))
    assert page.status_code == 200, page.text
    if paths.LOGIN_NAME in page.text and "login_name" in form(page.text, paths.LOGIN_NAME):
        name_form = form(page.text, paths.LOGIN_NAME)
        page = await browser.post(paths.LOGIN_NAME, data={**name_form, "login_name": login_name})
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    response = await browser.post(
        paths.LOGIN_PASSWORD, data={**password_form, "password": fx.PASSWORD}
    )
    return await follow(browser, response)


def totp_now(harness: Harness, secret: str, *, steps: int = 0) -> str:
    at = harness.services.clock.now() + timedelta(seconds=30 * steps)
    return pyotp.TOTP(secret).at(at)


async def set_up_totp(
    harness: Harness, browser: httpx2.AsyncClient, prompt: httpx2.Response
) -> tuple[str, httpx2.Response]:
    """From the prompt: choose the authenticator app, scan (read) the secret, confirm."""
    assert f'action="{paths.LOGIN_MFA_PROMPT}"' in prompt.text, prompt.text
    page = await browser.post(
        paths.LOGIN_MFA_PROMPT, data={**form(prompt.text, paths.LOGIN_MFA_PROMPT), "kind": "totp"}
    )
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and 'autocomplete="one-time-code"' in page.text
    [secret] = SECRET.findall(page.text)
    assert "otpauth://totp/" in html.unescape(page.text)
    code = totp_now(harness, secret)
    confirm = form(page.text, paths.LOGIN_MFA_TOTP)
    return secret, await browser.post(paths.LOGIN_MFA_TOTP, data={**confirm, "code": code})


async def exchange(harness: Harness, world: World, back: httpx2.Response) -> dict[str, object]:
    """The redirect's code for tokens; the ID token's claims."""
    assert back.status_code in (302, 303), back.text
    found = fx.query_of(back.headers["location"])
    client = world.clients["basic"]
    response = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": found["code"],
            "redirect_uri": fx.WEB_CALLBACK,
        },
        auth=(client.client_id, client.secret or ""),
    )
    assert response.status_code == 200, response.text
    return await harness.verify(response.json()["id_token"])


async def test_set_up_totp_when_prompted_then_the_next_sign_in_asks_for_a_code(
    harness: Harness, world: World
) -> None:
    await prompt_after_skip_lifetime(harness, world)
    params = fx.authorize_params(world.clients["basic"])
    async with client_of(harness) as browser:
        prompt = await password_pages(browser, params, world.alice.login_name)
        assert 'id="skip"' in prompt.text
        secret, codes_page = await set_up_totp(harness, browser, prompt)
        assert codes_page.status_code == 200, codes_page.text
        codes = RECOVERY.findall(codes_page.text)
        assert len(codes) == 10 and len(set(codes)) == 10
        [download] = re.findall(r'<a download="recovery-codes.txt" href="([^"]+)"', codes_page.text)
        assert unquote(html.unescape(download)).split(",", 1)[1].split() == codes
        # Shown once: the page loaded again has no codes.
        flow_id = form(codes_page.text, paths.LOGIN_MFA_RECOVERY_CODES)["flow"]
        again = await browser.get(paths.LOGIN_MFA_RECOVERY_CODES, params={"flow": flow_id})
        assert RECOVERY.findall(again.text) == [] and 'id="codes-shown"' in again.text
        go_on = form(codes_page.text, paths.LOGIN_MFA_RECOVERY_CODES)
        back = await follow(browser, await browser.post(paths.LOGIN_MFA_RECOVERY_CODES, data=go_on))
        claims = await exchange(harness, world, back)
        assert claims["amr"] == ["pwd", "otp", "mfa"] and "acr" not in claims

    # Another browser, a day later: the password, then the code (a wrong one first).
    harness.services.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    async with client_of(harness) as browser:
        params = fx.authorize_params(world.clients["basic"])
        verify = await password_pages(browser, params, world.alice.login_name)
        assert f'action="{paths.LOGIN_MFA_VERIFY}"' in verify.text
        assert 'id="recovery-hint"' in verify.text
        fields = form(verify.text, paths.LOGIN_MFA_VERIFY)
        wrong = await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": "000000"})
        assert wrong.status_code == 400 and 'id="code-error"' in wrong.text
        right = {**fields, "code": totp_now(harness, secret)}
        back = await follow(browser, await browser.post(paths.LOGIN_MFA_VERIFY, data=right))
        claims = await exchange(harness, world, back)
        assert claims["amr"] == ["pwd", "otp", "mfa"] and "acr" not in claims


async def test_a_recovery_code_works_once_and_a_used_totp_code_is_refused(
    harness: Harness, world: World
) -> None:
    await prompt_after_skip_lifetime(harness, world)
    async with client_of(harness) as browser:
        params = fx.authorize_params(world.clients["basic"])
        prompt = await password_pages(browser, params, world.alice.login_name)
        secret, codes_page = await set_up_totp(harness, browser, prompt)
        codes = RECOVERY.findall(codes_page.text)
        used_at_setup = totp_now(harness, secret)

    async def verify_page(browser: httpx2.AsyncClient) -> dict[str, str]:
        params = fx.authorize_params(world.clients["basic"])
        page = await password_pages(browser, params, world.alice.login_name)
        return form(page.text, paths.LOGIN_MFA_VERIFY)

    async with client_of(harness) as browser:
        # The code the set-up accepted is spent: the same time step never counts twice.
        fields = await verify_page(browser)
        replay = await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": used_at_setup})
        assert replay.status_code == 400
        lower = codes[0].lower()  # any case, as typed
        back = await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": lower})
        assert back.status_code in (302, 303), back.text

    async with client_of(harness) as browser:
        fields = await verify_page(browser)
        again = await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": codes[0]})
        assert again.status_code == 400 and 'id="code-error"' in again.text
        left = await browser.get(paths.LOGIN_MFA_VERIFY, params={"flow": fields["flow"]})
        assert "9" in left.text.split('id="recovery-hint"', 1)[1].split("</p>", 1)[0]


async def test_a_skip_is_remembered_for_the_skip_lifetime(harness: Harness, world: World) -> None:
    await prompt_after_skip_lifetime(harness, world, mfa_init_skip_lifetime_s=3600)
    params = fx.authorize_params(world.clients["basic"])
    async with client_of(harness) as browser:
        prompt = await password_pages(browser, params, world.alice.login_name)
        skip = {**form(prompt.text, paths.LOGIN_MFA_PROMPT), "skip": "1"}
        back = await follow(browser, await browser.post(paths.LOGIN_MFA_PROMPT, data=skip))
        claims = await exchange(harness, world, back)
        assert claims["amr"] == ["pwd"]
    async with client_of(harness) as browser:
        params = fx.authorize_params(world.clients["basic"])
        back = await password_pages(browser, params, world.alice.login_name)
        assert back.status_code in (302, 303)  # no prompt within the hour
    harness.services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    async with client_of(harness) as browser:
        params = fx.authorize_params(world.clients["basic"])
        page = await password_pages(browser, params, world.alice.login_name)
        assert f'action="{paths.LOGIN_MFA_PROMPT}"' in page.text


async def test_a_forced_prompt_cannot_be_skipped(harness: Harness, world: World) -> None:
    await harness.services.policies.set(world.admin, "login", {"force_mfa": True}, world.org_id)
    params = fx.authorize_params(world.clients["basic"])
    async with client_of(harness) as browser:
        prompt = await password_pages(browser, params, world.alice.login_name)
        assert f'action="{paths.LOGIN_MFA_PROMPT}"' in prompt.text
        assert 'id="skip"' not in prompt.text
        skip = {**form(prompt.text, paths.LOGIN_MFA_PROMPT), "skip": "1"}
        refused = await browser.post(paths.LOGIN_MFA_PROMPT, data=skip)
        assert refused.status_code == 412, refused.text
        assert 'id="form-alert"' in refused.text
        # Nor does a silent sign-in get past the prompt with the session the password made.
        silent = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
        stale = await browser.get(paths.AUTHORIZE, params=silent)
        assert fx.query_of(stale.headers["location"])["error"] == "login_required"
        _, codes_page = await set_up_totp(harness, browser, prompt)
        assert len(RECOVERY.findall(codes_page.text)) == 10


async def test_prompt_none_is_refused_while_the_second_factor_is_stale(
    harness: Harness, world: World
) -> None:
    await prompt_after_skip_lifetime(harness, world, second_factor_check_lifetime_s=3600)
    async with client_of(harness) as browser:
        params = fx.authorize_params(world.clients["basic"])
        prompt = await password_pages(browser, params, world.alice.login_name)
        _, codes_page = await set_up_totp(harness, browser, prompt)
        go_on = form(codes_page.text, paths.LOGIN_MFA_RECOVERY_CODES)
        await follow(browser, await browser.post(paths.LOGIN_MFA_RECOVERY_CODES, data=go_on))

        silent = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
        fresh = await browser.get(paths.AUTHORIZE, params=silent)
        assert "code" in fx.query_of(fresh.headers["location"])

        # Past the second factor's lifetime (the password's is longer): no silent sign-in.
        harness.services.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
        silent = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
        stale = await browser.get(paths.AUTHORIZE, params=silent)
        assert fx.query_of(stale.headers["location"])["error"] == "login_required"
