"""Generated input at every protocol endpoint and hosted login form: never a server error.

Hypothesis sends what tests/fuzz_fixtures.py builds: strings, numbers, JSON-ish values,
JWT-shaped strings (some signed with real keys, so they reach the checks behind the
signature), repeated parameters and odd bodies. Each answer must be below 500. The app runs
in-process over one store built once for the module; the login pages are addressed by path
only. `derandomize=True` makes every run send the same examples.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz_fixtures as ff
from tests.fuzz_fixtures import (
    CLIENT_ASSERTION_TYPE,
    JWT_BEARER,
    Bed,
    Body,
    Browser,
    Pairs,
    assert_no_server_error,
    authorization_headers,
    bodies,
    browser_on,
    jwt_shaped,
    numbers,
    pairs,
    printable,
    text,
    values,
)
from tests.oidc_fixtures import PASSWORD, authorize_params
from zitui.core.idps import IdpSettings
from zitui.core.users import NewHumanUser
from zitui.records import IdpType
from zitui.server import paths
from zitui.server.browser import cookie_name

bed = ff.bed
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- protocol endpoints -------------------------------------------------------------------


def authorize_fields(bed: Bed) -> dict[str, st.SearchStrategy[str]]:
    anything = values(bed)
    return {
        "client_id": values(bed, "client_id"),
        "redirect_uri": values(bed, "redirect_uri"),
        "response_type": st.sampled_from(["code", "token", "id_token"]) | anything,
        "response_mode": st.sampled_from(["query", "form_post", "fragment"]) | anything,
        "scope": st.sampled_from(["openid", "openid profile offline_access"]) | anything,
        "state": anything,
        "nonce": anything,
        "code_challenge": st.just("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") | anything,
        "code_challenge_method": st.sampled_from(["S256", "plain"]) | anything,
        "prompt": st.sampled_from(["none", "login", "none login", "select_account"]) | anything,
        "max_age": numbers | anything,
        "login_hint": values(bed, "login_name"),
        "id_token_hint": values(bed, "id_token"),
        "ui_locales": st.sampled_from(["de", "en de-CH"]) | anything,
        "acr_values": anything,
        "request": values(bed, "id_token"),
        "request_uri": anything,
    }


@FUZZ
@given(data=st.data())
def test_authorize(bed: Bed, data: st.DataObject) -> None:
    request = data.draw(pairs(bed, authorize_fields(bed)))
    browser = data.draw(st.sampled_from([None, *bed.browsers]))
    cookies = browser.cookies if browser else None
    if data.draw(st.booleans()):
        response = bed.send("GET", paths.AUTHORIZE, query=request, cookies=cookies)
    else:
        body = data.draw(bodies(st.just(request)))
        response = bed.send("POST", paths.AUTHORIZE, body=body, cookies=cookies)
    assert_no_server_error(response)


def client_auth_fields(bed: Bed) -> dict[str, st.SearchStrategy[str]]:
    return {
        "client_id": values(bed, "client_id"),
        "client_secret": values(bed, "secret"),
        "client_assertion_type": st.just(CLIENT_ASSERTION_TYPE) | values(bed),
        "client_assertion": jwt_shaped(bed) | values(bed),
    }


GRANT_TYPES = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    JWT_BEARER,
    "urn:ietf:params:oauth:grant-type:device_code",
    "password",
]


@FUZZ
@given(data=st.data())
def test_token(bed: Bed, data: st.DataObject) -> None:
    grant_type = data.draw(st.sampled_from(GRANT_TYPES) | values(bed))
    fields = {
        **client_auth_fields(bed),
        "code": values(bed, "code"),
        "redirect_uri": values(bed, "redirect_uri"),
        "code_verifier": values(bed),
        "refresh_token": values(bed, "token"),
        "scope": st.sampled_from(["openid", "openid offline_access"]) | values(bed),
        "assertion": jwt_shaped(bed) | values(bed),
    }
    request = [("grant_type", grant_type), *data.draw(pairs(bed, fields))]
    body = data.draw(bodies(st.just(request)))
    headers = data.draw(authorization_headers(bed))
    assert_no_server_error(bed.send("POST", paths.TOKEN, body=body, headers=headers))


@FUZZ
@given(data=st.data())
def test_introspect_and_revoke(bed: Bed, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from([paths.INTROSPECT, paths.REVOKE]))
    fields = {
        **client_auth_fields(bed),
        "token": values(bed, "token"),
        "token_type_hint": st.sampled_from(["access_token", "refresh_token"]) | values(bed),
    }
    body = data.draw(bodies(pairs(bed, fields)))
    headers = data.draw(authorization_headers(bed))
    assert_no_server_error(bed.send("POST", path, body=body, headers=headers))


@FUZZ
@given(data=st.data())
def test_userinfo(bed: Bed, data: st.DataObject) -> None:
    headers = data.draw(authorization_headers(bed))
    if data.draw(st.booleans()):
        response = bed.send("GET", paths.USERINFO, headers=headers)
    else:
        body = data.draw(bodies(pairs(bed, {"access_token": values(bed, "token")})))
        response = bed.send("POST", paths.USERINFO, body=body, headers=headers)
    assert_no_server_error(response)


@FUZZ
@given(data=st.data())
def test_end_session(bed: Bed, data: st.DataObject) -> None:
    fields = {
        "id_token_hint": values(bed, "id_token"),
        "client_id": values(bed, "client_id"),
        "post_logout_redirect_uri": st.just("https://app.example/logged-out") | values(bed),
        "state": values(bed),
        "ui_locales": values(bed),
        "logout_hint": values(bed, "login_name"),
    }
    request = data.draw(pairs(bed, fields))
    # A browser that holds no session: a logout here must not end the shared browsers'.
    if data.draw(st.booleans()):
        response = bed.send("GET", paths.END_SESSION, query=request)
    else:
        body = data.draw(bodies(st.just(request), uploads=False))
        response = bed.send("POST", paths.END_SESSION, body=body)
    assert_no_server_error(response)


@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_keys_and_discovery(bed: Bed, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from([paths.KEYS, paths.DISCOVERY]))
    query = data.draw(st.lists(st.tuples(text, text), max_size=3))
    headers = data.draw(authorization_headers(bed))
    assert_no_server_error(bed.send("GET", path, query=query, headers=headers))


def jwt_sinks(bed: Bed, token: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every place a client hands the provider a JWT: (method, path, request keywords)."""
    form = "application/x-www-form-urlencoded"
    api = bed.world.clients["api"]
    basic = "Basic " + base64.b64encode(f"{api.client_id}:{api.secret}".encode()).decode()
    assertion = [("client_assertion_type", CLIENT_ASSERTION_TYPE), ("client_assertion", token)]
    authorize = [*authorize_params(bed.world.clients["basic"]).items(), ("id_token_hint", token)]

    def post(pairs: Pairs, **headers: str) -> dict[str, Any]:
        return {
            "body": Body({"content": urlencode(pairs).encode()}, {"content-type": form}),
            "headers": headers,
        }

    return [
        ("GET", paths.USERINFO, {"headers": {"authorization": f"Bearer {printable(token)}"}}),
        ("POST", paths.USERINFO, post([("access_token", token)])),
        ("POST", paths.TOKEN, post([("grant_type", JWT_BEARER), ("assertion", token)])),
        (
            "POST",
            paths.TOKEN,
            post([("grant_type", "refresh_token"), ("refresh_token", "x"), *assertion]),
        ),
        ("POST", paths.INTROSPECT, post([("token", token)], authorization=basic)),
        ("POST", paths.INTROSPECT, post([("token", "x"), *assertion])),
        ("POST", paths.REVOKE, post([("token", token)], authorization=basic)),
        ("POST", paths.REVOKE, post([("token", "x"), *assertion])),
        ("GET", paths.AUTHORIZE, {"query": authorize}),
        ("GET", paths.END_SESSION, {"query": [("id_token_hint", token)]}),
        ("POST", paths.END_SESSION, post([("id_token_hint", token)])),
    ]


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_jwts_wherever_a_client_sends_one(bed: Bed, data: st.DataObject) -> None:
    token = data.draw(jwt_shaped(bed))
    method, path, request = data.draw(st.sampled_from(jwt_sinks(bed, token)))
    assert_no_server_error(bed.send(method, path, **request))


# -- hosted login, by path ----------------------------------------------------------------

LOGIN_FORMS = [
    paths.LOGIN_NAME,
    paths.LOGIN_PASSWORD,
    paths.LOGIN_PASSWORD_CHANGE,
    paths.LOGIN_USER_SELECTION,
    paths.LOGOUT,
    paths.LOGIN_REGISTER,
    paths.LOGIN_VERIFY_EMAIL,
    paths.LOGIN_PASSWORD_INIT,
    paths.LOGIN_USER_INIT,
    paths.LOGIN_PASSWORD_RESET,
    paths.LOGIN_CODE_RESEND,
]
# The second-factor pages: the set-up prompt, TOTP and key set-up, the recovery codes, the
# check of a factor, a key's answer, the passkey sign-in and adding a factor when signed in.
FACTOR_FORMS = [
    paths.LOGIN_MFA_PROMPT,
    paths.LOGIN_MFA_TOTP,
    paths.LOGIN_MFA_RECOVERY_CODES,
    paths.LOGIN_MFA_VERIFY,
    paths.LOGIN_MFA_KEY,
    paths.LOGIN_MFA_VERIFY_KEY,
    paths.LOGIN_PASSKEY,
    paths.LOGIN_MFA_ADD,
]
LOGIN_FORMS += FACTOR_FORMS
_POST_ONLY = {
    paths.LOGIN_PASSWORD_RESET,
    paths.LOGIN_CODE_RESEND,
    paths.LOGIN_USER_SELECTION,
    paths.LOGIN_MFA_VERIFY_KEY,
    paths.LOGIN_PASSKEY,
    paths.LOGIN_MFA_ADD,
}
LOGIN_PAGES = [
    paths.LOGIN,
    *(path for path in LOGIN_FORMS if path not in _POST_ONLY),
    paths.LOGIN_SIGNED_IN,
    paths.LOGOUT_DONE,
]
# The fields of registration and of the pages that take a code from a mail.
ACCOUNT_FIELDS = (
    "given_name",
    "family_name",
    "email",
    "username",
    "language",
    "terms",
    "password_repeat",
    "code",
    "userID",
)
# The fields of the second-factor forms (the buttons' names among them).
FACTOR_FIELDS = ("kind", "skip", "use", "credential", "client_error", "name")


def login_fields(bed: Bed, browser: Browser) -> dict[str, st.SearchStrategy[str]]:
    names = {*browser.names, "login_name", "password", "new_password", "session_id", "flow"}
    names.update(ACCOUNT_FIELDS + FACTOR_FIELDS)
    anything = values(bed, "login_name")
    fields = {name: anything for name in names}
    for name, value in browser.carried + browser.query:
        fields[name] = st.just(value) | anything
    return fields


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_login_forms(bed: Bed, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(LOGIN_FORMS))
    browser = data.draw(st.sampled_from(bed.browsers))
    with_csrf = data.draw(st.booleans())
    generated = data.draw(pairs(bed, login_fields(bed, browser)))
    form = (browser.carried if with_csrf else []) + generated
    query = browser.query if data.draw(st.booleans()) else data.draw(pairs(bed, {}))
    body = data.draw(bodies(st.just(form), uploads=False))
    cookies = browser.cookies if data.draw(st.booleans()) else None
    response = bed.send("POST", path, query=query, body=body, cookies=cookies)
    assert_no_server_error(response)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_login_pages(bed: Bed, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(LOGIN_PAGES))
    browser = data.draw(st.sampled_from(bed.browsers))
    query = data.draw(pairs(bed, login_fields(bed, browser)))
    cookies = browser.cookies if data.draw(st.booleans()) else None
    assert_no_server_error(bed.send("GET", path, query=query, cookies=cookies))


def test_the_browsers_reached_a_login_form(bed: Bed) -> None:
    """Without a form the login tests would only send to pages that refuse everything."""
    assert all(browser.carried and browser.names for browser in bed.browsers)


# -- the second-factor pages, from browsers that reached them ------------------------------


@pytest.fixture(scope="module")
def factor_browsers(bed: Bed) -> list[Browser]:
    """bob past his password, on the set-up prompt, on a security key's set-up page, and
    (once he has an authenticator app) on the verify page. The world's organisation asks for
    a second factor from here on."""
    return bed.runner.run(_factor_browsers(bed))


async def _factor_browsers(bed: Bed) -> list[Browser]:
    services, world = bed.services, bed.world
    changes = {"mfa_init_skip_lifetime_s": 720 * 3600, "second_factors": ["otp", "u2f"]}
    await services.policies.set(world.admin, "login", changes, world.org_id)
    prompt = await _past_password(bed, paths.LOGIN_MFA_PROMPT)
    key = await _past_password(bed, paths.LOGIN_MFA_KEY, kind="u2f")
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, world.admin, world.bob, issuer="zitui")
    async with services.store.transaction() as tx:
        code = pyotp.TOTP(setup.secret).at(services.clock.now())
        assert await services.factors.confirm_totp(
            tx, world.admin, world.bob, setup.factor_id, code
        )
    verify = await _past_password(bed, paths.LOGIN_MFA_VERIFY)
    return [prompt, key, verify]


async def _past_password(bed: Bed, expect: str, *, kind: str = "") -> Browser:
    """A browser that gave bob's login name and password (and chose `kind` at the prompt),
    on the page with the form to `expect`."""
    params = authorize_params(bed.world.clients["basic"])
    async with httpx2.AsyncClient(
        transport=bed.harness.transport, base_url=bed.harness.issuer, follow_redirects=True
    ) as client:

        async def submit(page: httpx2.Response, action: str, **values: str) -> httpx2.Response:
            carried = dict(browser_on(page, {}).carried)
            return await client.post(action, data={**carried, **values})

        page = await client.get(paths.AUTHORIZE, params=params)
        page = await submit(page, paths.LOGIN_NAME, login_name="bob")
        page = await submit(page, paths.LOGIN_PASSWORD, password=PASSWORD)
        if kind:
            page = await submit(page, paths.LOGIN_MFA_PROMPT, kind=kind)
        assert f'action="{expect}"' in page.text, page.text
        return browser_on(page, dict(client.cookies.items()))


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_factor_forms(bed: Bed, factor_browsers: list[Browser], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(FACTOR_FORMS))
    browser = data.draw(st.sampled_from(factor_browsers + bed.browsers))
    fields = login_fields(bed, browser)
    kinds = st.sampled_from(["totp", "u2f", "passkey", "otp_email", "otp_sms"])
    fields.update(kind=kinds | fields["kind"], use=kinds | fields["use"])
    # Mostly the page's own flow and CSRF token, last so they count: past the check, the
    # generated fields reach the steps behind it.
    valid = [(name, value) for name, value in browser.carried if name in ("flow", "csrf_token")]
    with_csrf = data.draw(st.integers(0, 3)) > 0
    generated = data.draw(pairs(bed, fields))
    form = generated + (valid if with_csrf else [])
    body = data.draw(bodies(st.just(form), uploads=False))
    cookies = browser.cookies if data.draw(st.integers(0, 3)) else None
    assert_no_server_error(bed.send("POST", path, query=browser.query, body=body, cookies=cookies))


# -- the account pages, from a browser signed in to them -----------------------------------

# Every form of the account pages, and the pages themselves.
ACCOUNT_FORMS = [
    paths.ACCOUNT_PROFILE,
    paths.ACCOUNT_USERNAME,
    paths.ACCOUNT_EMAIL,
    paths.ACCOUNT_EMAIL_VERIFY,
    paths.ACCOUNT_EMAIL_RESEND,
    paths.ACCOUNT_PHONE,
    paths.ACCOUNT_PHONE_VERIFY,
    paths.ACCOUNT_PHONE_RESEND,
    paths.ACCOUNT_PHONE_REMOVE,
    paths.ACCOUNT_PASSWORD,
    paths.ACCOUNT_FACTOR_ADD,
    paths.ACCOUNT_FACTOR_RENAME,
    paths.ACCOUNT_FACTOR_REMOVE,
    paths.ACCOUNT_RECOVERY_CODES,
    paths.ACCOUNT_SESSION_END,
    paths.ACCOUNT_SESSIONS_END_OTHERS,
    paths.ACCOUNT_APP_REVOKE,
    paths.ACCOUNT_DELETE,
]
ACCOUNT_PAGES = [
    paths.ACCOUNT,
    paths.ACCOUNT_PASSWORD,
    paths.ACCOUNT_SECURITY,
    paths.ACCOUNT_CONNECTIONS,
    paths.ACCOUNT_SESSIONS,
    paths.ACCOUNT_DELETE,
    paths.ACCOUNT_DELETED,
]
ACCOUNT_FORM_FIELDS = (
    "first_name",
    "last_name",
    "nickname",
    "display_name",
    "gender",
    "preferred_language",
    "username",
    "email",
    "email_code",
    "phone",
    "phone_code",
    "current_password",
    "new_password",
    "new_password_repeat",
    "password",
    "factor",
    "name",
    "session",
    "token",
    "account",
)


@pytest.fixture(scope="module")
def account_browsers(bed: Bed) -> list[Browser]:
    """A user of their own (so the other tests' users keep their state) signed in with the
    password and an authenticator app, on each account page."""
    return bed.runner.run(_account_browsers(bed))


async def _account_browsers(bed: Bed) -> list[Browser]:
    services, world = bed.services, bed.world
    new = NewHumanUser(
        username="fuzzy",
        first_name="Fuzzy",
        last_name="Self",
        email="fuzzy@example.com",
        email_verified=True,
        password=PASSWORD,
    )
    user = await services.users.create_human_user(world.admin, world.org_id, new)
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, world.admin, user, issuer="zitui")
    async with services.store.transaction() as tx:
        code = pyotp.TOTP(setup.secret).at(services.clock.now())
        assert await services.factors.confirm_totp(tx, world.admin, user, setup.factor_id, code)
    cookie, session = await bed.harness.sign_in(user)
    async with services.store.transaction() as tx:  # as the verify page records a code
        await tx.sessions.record_second_factor(session.id, services.clock.now(), kind="totp")
    cookies = {cookie_name(secure=bed.harness.issuer.startswith("https://")): cookie}
    browsers = []
    async with httpx2.AsyncClient(
        transport=bed.harness.transport, base_url=bed.harness.issuer, cookies=cookies
    ) as client:
        for path in ACCOUNT_PAGES[:-1]:
            page = await client.get(path)
            assert page.status_code == 200, page.text
            browsers.append(browser_on(page, cookies))
    return browsers


def account_fields(bed: Bed, browser: Browser) -> dict[str, st.SearchStrategy[str]]:
    anything = values(bed, "login_name")
    fields = {name: anything for name in {*browser.names, *ACCOUNT_FORM_FIELDS}}
    for name, value in browser.carried:
        fields[name] = st.just(value) | anything
    return fields


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_account_forms(bed: Bed, account_browsers: list[Browser], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(ACCOUNT_FORMS))
    browser = data.draw(st.sampled_from(account_browsers + bed.browsers))
    # Mostly with the page's CSRF token, last so it counts: past the check, the generated
    # fields reach the core calls behind it.
    valid = [(name, value) for name, value in browser.carried if name == "csrf_token"]
    with_csrf = data.draw(st.integers(0, 3)) > 0
    generated = data.draw(pairs(bed, account_fields(bed, browser)))
    form = generated + (valid if with_csrf else [])
    body = data.draw(bodies(st.just(form), uploads=False))
    cookies = browser.cookies if data.draw(st.integers(0, 3)) else None
    assert_no_server_error(bed.send("POST", path, body=body, cookies=cookies))


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_account_pages(bed: Bed, account_browsers: list[Browser], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(ACCOUNT_PAGES))
    browser = data.draw(st.sampled_from(account_browsers + bed.browsers))
    query = data.draw(pairs(bed, {"account": values(bed), "done": values(bed)}))
    cookies = browser.cookies if data.draw(st.booleans()) else None
    assert_no_server_error(bed.send("GET", path, query=query, cookies=cookies))


# -- external identity providers, from browsers on their steps ------------------------------

# A provider's button, its answer (a GET, and the form_post twin that needs no CSRF token),
# the unknown identity's choice and the registration pre-filled from the provider.
EXTERNAL_FORMS = [
    paths.LOGIN_EXTERNAL,
    paths.LOGIN_EXTERNAL_CALLBACK_FORM,
    paths.LOGIN_EXTERNAL_OPTION,
    paths.LOGIN_EXTERNAL_REGISTER,
]
EXTERNAL_PAGES = [paths.LOGIN_EXTERNAL_CALLBACK, paths.LOGIN_EXTERNAL_REGISTER]
EXTERNAL_FIELDS = ("idp", "choice", "state", "code", "error", "error_description", "iss")


@dataclass(frozen=True)
class External:
    idp_id: str
    flow_ids: list[str]  # of flows at the provider's step
    browsers: list[Browser]  # on a login page with the button, and just back from pressing it


@pytest.fixture(scope="module")
def external(bed: Bed) -> External:
    return bed.runner.run(_external(bed))


async def _external(bed: Bed) -> External:
    """A plain OAuth 2.0 provider of the instance, whose authorization URL needs no network
    (its endpoints are a closed port here, never reached: no generated state carries a MAC
    the server made); a browser on the login-name page with its button, and one that pressed
    it (its flow waits for the provider's answer)."""
    nowhere = "http://127.0.0.1:9"
    settings = IdpSettings(
        name="Fuzzed",
        type=IdpType.OAUTH,
        client_id="fuzz",
        client_secret="fuzz-secret-0123456789",
        authorization_endpoint=f"{nowhere}/authorize",
        token_endpoint=f"{nowhere}/token",
        userinfo_endpoint=f"{nowhere}/userinfo",
        id_attribute="id",
    )
    idp = await bed.services.idps.add(bed.world.admin, "", settings)
    browsers, flow_ids = [], []
    for press in (False, True):
        params = authorize_params(bed.world.clients["basic"])
        async with httpx2.AsyncClient(
            transport=bed.harness.transport, base_url=bed.harness.issuer
        ) as client:
            page = await client.get(paths.AUTHORIZE, params=params)
            while page.status_code in (302, 303):
                page = await client.get(page.headers["location"])
            assert f'name="idp" value="{idp.id}"' in page.text, page.text
            browser = browser_on(page, dict(client.cookies.items()))
            if press:
                fields = dict(browser.carried)
                away = await client.post(paths.LOGIN_EXTERNAL, data={**fields, "idp": idp.id})
                assert away.status_code == 303 and away.headers["location"].startswith(nowhere)
                state = dict(parse_qsl(urlsplit(away.headers["location"]).query))["state"]
                flow_ids.append(state.split(".")[0])
            browsers.append(browser)
    return External(idp.id, flow_ids, browsers)


def external_fields(
    bed: Bed, external: External, browser: Browser
) -> dict[str, st.SearchStrategy[str]]:
    fields = login_fields(bed, browser)
    anything = fields["login_name"]
    forged = st.sampled_from(external.flow_ids).flatmap(
        lambda flow_id: text.map(lambda mac: f"{flow_id}.{mac}")
    )
    fields.update({name: anything for name in EXTERNAL_FIELDS})
    fields.update(
        idp=st.just(external.idp_id) | anything,
        choice=st.sampled_from(["create", "link"]) | anything,
        state=forged | anything,
        error=st.sampled_from(["access_denied", "server_error"]) | anything,
    )
    return fields


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_external_forms(bed: Bed, external: External, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(EXTERNAL_FORMS))
    browser = data.draw(st.sampled_from(external.browsers))
    valid = [(name, value) for name, value in browser.carried if name in ("flow", "csrf_token")]
    generated = data.draw(pairs(bed, external_fields(bed, external, browser)))
    form = generated + (valid if data.draw(st.integers(0, 3)) else [])
    body = data.draw(bodies(st.just(form), uploads=False))
    cookies = browser.cookies if data.draw(st.integers(0, 3)) else None
    response = bed.send("POST", path, query=browser.query, body=body, cookies=cookies)
    assert_no_server_error(response)
    if response.status_code in (302, 303):
        # Only the provider's button leaves zitui, and only for the provider itself.
        location = response.headers["location"]
        assert location.startswith(("/", "http://127.0.0.1:9/authorize?")), location


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_external_pages(bed: Bed, external: External, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(EXTERNAL_PAGES))
    browser = data.draw(st.sampled_from(external.browsers))
    query = data.draw(pairs(bed, external_fields(bed, external, browser)))
    cookies = browser.cookies if data.draw(st.booleans()) else None
    assert_no_server_error(bed.send("GET", path, query=query, cookies=cookies))
