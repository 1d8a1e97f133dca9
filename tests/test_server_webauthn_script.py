"""The page script zitui/server/static/webauthn.js in Debian's chromium with a virtual
authenticator: a create form posts a registration the verifier accepts, a get form posts an
assertion signed by that credential, a refusal posts the DOMException's name, and browsers
without WebAuthn hide what needs it and post NotSupportedError."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect
from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import base64url_to_bytes

from tests.live_server import chromium
from tests.processes import free_port
from zitui.core.clock import FixedClock
from zitui.core.factors import Factor, FactorKind
from zitui.core.webauthn import Ceremony, WebAuthnService
from zitui.records import User, UserKind, UserState

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT = Path(__file__).resolve().parents[1] / "zitui" / "server" / "static" / "webauthn.js"
AT = datetime(2026, 12, 6, tzinfo=UTC)
USER = User(
    id="0193a8f0-7c1e-7b3a-9d2e-00000000beef",
    org_id="org",
    kind=UserKind.HUMAN,
    username="sam",
    login_name="sam@example.com",
    state=UserState.ACTIVE,
    first_name="Sam",
    last_name="Script",
    nickname="",
    display_name="Sam Script",
    gender="",
    preferred_language="en",
    email="sam@example.com",
    email_verified=True,
    phone="",
    phone_verified=False,
    password_change_required=False,
    created_at=AT,
    updated_at=AT,
)
KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": False,
    "automaticPresenceSimulation": True,
}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")


class Site:
    """A page per form on http://localhost:<port>, the script under /static, and the bodies
    the forms post."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.posted: list[dict[str, str]] = []
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"

    def form_page(self, path: str, mode: str, options: str, *, extra: str = "") -> str:
        self.pages[path] = (
            "<!doctype html><meta charset=utf-8><title>form</title>"
            f'<form method="post" action="/posted" data-webauthn="{mode}"'
            f' data-options="{escape(options)}">'
            '<input type="hidden" name="credential"><input type="hidden" name="client_error">'
            '<button type="submit" id="go" name="use" value="key">Go</button></form>'
            f'{extra}<script src="/static/webauthn.js" defer></script>'
        )
        return f"{self.origin}{path}"


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            if self.path == "/static/webauthn.js":
                self._send(SCRIPT.read_bytes(), "text/javascript")
            elif self.path in site.pages:
                self._send(site.pages[self.path].encode(), "text/html; charset=utf-8")
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            body = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            fields = {name: values[0] for name, values in body.items()}
            site.posted.append(fields | {"_path": self.path})
            self._send(b"<!doctype html><title>posted</title>", "text/html; charset=utf-8")

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Security-Policy", "script-src 'self'")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", site.port), handler(site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def service(site: Site) -> WebAuthnService:
    return WebAuthnService(FixedClock(AT), origin=site.origin, rp_name="zitui")


# Older browsers: no JSON helpers, so the script decodes the options and encodes the answer.
WITHOUT_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


def page_with_key(browser: Browser, init: str = "") -> tuple[Page, CDPSession, list[str]]:
    page = browser.new_context().new_page()
    if init:
        page.add_init_script(init)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "404" not in m.text else None,
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": KEY})
    return page, cdp, problems


def submit(page: Page, url: str, site: Site) -> dict[str, str]:
    page.goto(url)
    with page.expect_navigation():
        page.click("#go")
    assert page.title() == "posted"
    return site.posted[-1]


def register(page: Page, site: Site, service: WebAuthnService) -> tuple[Ceremony, dict[str, Any]]:
    ceremony = service.registration(USER, [], passkey=False)
    url = site.form_page("/create", "create", ceremony.options_json)
    posted = submit(page, url, site)
    assert posted["client_error"] == "" and posted["use"] == "key"
    return ceremony, json.loads(posted["credential"])


def test_a_create_form_posts_a_registration_the_verifier_accepts(
    browser: Browser, site: Site, service: WebAuthnService
):
    page, _, problems = page_with_key(browser)

    ceremony, credential = register(page, site, service)

    assert credential["type"] == "public-key" and credential["response"]["transports"] == ["usb"]
    assert "clientExtensionResults" in credential
    verified = verify_registration_response(
        credential=credential,
        expected_challenge=base64url_to_bytes(ceremony.challenge),
        expected_rp_id="localhost",
        expected_origin=site.origin,
    )
    assert verified.credential_id == base64url_to_bytes(credential["id"])
    assert problems == []


@pytest.mark.parametrize("init", ["", WITHOUT_JSON_HELPERS], ids=["helpers", "by-hand"])
def test_a_get_form_posts_an_assertion_of_that_credential(
    browser: Browser, site: Site, service: WebAuthnService, init: str
):
    page, _, problems = page_with_key(browser, init)
    registered, created = register(page, site, service)
    helpers = page.evaluate("typeof PublicKeyCredential.parseRequestOptionsFromJSON")
    assert helpers == ("undefined" if init else "function")
    registration = verify_registration_response(
        credential=created,
        expected_challenge=base64url_to_bytes(registered.challenge),
        expected_rp_id="localhost",
        expected_origin=site.origin,
    )
    factor = Factor(
        id="f",
        user_id=USER.id,
        kind=FactorKind.U2F,
        name="",
        ready=True,
        created_at=AT,
        last_used_at=None,
        credential_id=created["id"],
        transports=("usb",),
    )
    ceremony = service.authentication([factor], user_verification=False)

    posted = submit(page, site.form_page("/get", "get", ceremony.options_json), site)

    assertion = json.loads(posted["credential"])
    assert assertion["id"] == created["id"] and posted["client_error"] == ""
    verified = verify_authentication_response(
        credential=assertion,
        expected_challenge=base64url_to_bytes(ceremony.challenge),
        expected_rp_id="localhost",
        expected_origin=site.origin,
        credential_public_key=registration.credential_public_key,
        credential_current_sign_count=registration.sign_count,
    )
    assert verified.new_sign_count > registration.sign_count
    assert problems == []


def test_a_refusal_posts_the_exceptions_name(
    browser: Browser, site: Site, service: WebAuthnService
):
    page, _, problems = page_with_key(browser)
    _, created = register(page, site, service)
    factor = Factor(
        id="f",
        user_id=USER.id,
        kind=FactorKind.U2F,
        name="",
        ready=True,
        created_at=AT,
        last_used_at=None,
        credential_id=created["id"],
    )
    # The key holds an excluded credential: the browser refuses with InvalidStateError.
    ceremony = service.registration(USER, [factor], passkey=False)

    posted = submit(page, site.form_page("/again", "create", ceremony.options_json), site)

    assert posted["credential"] == "" and posted["client_error"] == "InvalidStateError"
    assert problems == []


def test_without_webauthn_the_page_hides_what_needs_it_and_says_so(
    browser: Browser, site: Site, service: WebAuthnService
):
    page = browser.new_context().new_page()
    page.add_init_script("delete window.PublicKeyCredential;")
    ceremony = service.authentication([], user_verification=True)
    url = site.form_page(
        "/plain",
        "get",
        ceremony.options_json,
        extra='<p id="only" data-webauthn-only>passkeys</p><p id="always">name</p>',
    )

    page.goto(url)
    # Not wait_for_function: its string predicate needs eval, which the page's CSP refuses.
    expect(page.locator("#only")).to_be_hidden()
    assert page.is_visible("#always") and not page.is_visible("#only")
    with page.expect_navigation():
        page.click("#go")

    assert site.posted[-1]["client_error"] == "NotSupportedError"
    assert site.posted[-1]["credential"] == ""


PASSKEY_HOLDER = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# Headless Chromium says it has no autofill UI; it takes a conditional request all the same,
# and its virtual authenticator answers it at once with the passkey it holds.
AUTOFILL_AVAILABLE = """
if (window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = async () => true;
}
"""


def test_a_passkey_picked_from_autofill_posts_the_conditional_form(
    browser: Browser, site: Site, service: WebAuthnService
):
    page = browser.new_context().new_page()
    page.add_init_script(AUTOFILL_AVAILABLE)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": PASSKEY_HOLDER})
    created = submit(
        page,
        site.form_page(
            "/passkey", "create", service.registration(USER, [], passkey=True).options_json
        ),
        site,
    )
    assert created["client_error"] == ""
    ceremony = service.authentication([], user_verification=True)
    conditional = (
        '<input autocomplete="username webauthn" id="name">'
        '<form method="post" action="/posted?autofill" data-webauthn="conditional"'
        f' data-options="{escape(ceremony.options_json)}" hidden>'
        '<input type="hidden" name="credential"><input type="hidden" name="client_error">'
        "</form>"
    )
    other = service.authentication([], user_verification=True).options_json

    page.goto(site.form_page("/autofill", "get", other, extra=conditional))
    page.wait_for_url("**/posted?autofill")

    posted = site.posted[-1]
    assertion = json.loads(posted["credential"])
    assert posted["_path"] == "/posted?autofill" and posted["client_error"] == ""
    assert assertion["id"] == json.loads(created["credential"])["id"]
    assert base64url_to_bytes(assertion["response"]["userHandle"]) == USER.id.encode()
    client_data = json.loads(base64url_to_bytes(assertion["response"]["clientDataJSON"]))
    assert client_data["challenge"] == ceremony.challenge
