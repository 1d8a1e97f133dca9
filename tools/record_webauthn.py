"""Record WebAuthn registrations and assertions from Chromium's virtual authenticators into
tests/data/webauthn/, so the verifier tests run without a browser.

    .venv/bin/python tools/record_webauthn.py            # write the fixtures
    .venv/bin/python tools/record_webauthn.py --out DIR  # somewhere else

Debian's chromium (/usr/bin/chromium) runs a blank page on http://localhost:<free port> (an IP
address cannot be a relying party id). The options come from zitui's own WebAuthnService, so
the fixtures hold what the server asks for and what a browser answers. Each file keeps the
origin, rp id, user id, challenge, the options and the credential JSON (`toJSON()`).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import CDPSession, Page, sync_playwright

from zitui.core.clock import SystemClock
from zitui.core.factors import Factor, FactorKind
from zitui.core.webauthn import Ceremony, WebAuthnService
from zitui.records import User, UserKind, UserState

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "data" / "webauthn"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The user the recordings belong to; the tests store a user with this id.
USER_ID = "0193a8f0-7c1e-7b3a-9d2e-5f6a7b8c9d0e"
SECURITY_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": False,
    "automaticPresenceSimulation": True,
}
PLATFORM = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
CEREMONY_JS = """async ([kind, options]) => {
  const publicKey = kind === "create"
    ? PublicKeyCredential.parseCreationOptionsFromJSON(options)
    : PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const credential = await navigator.credentials[kind]({ publicKey });
  return credential.toJSON();
}"""


class _Blank(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        body = b"<!doctype html><title>WebAuthn recording</title><p>recording"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def blank_site() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def recording_user() -> User:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    return User(
        id=USER_ID,
        org_id="0193a8f0-0000-7000-8000-000000000001",
        kind=UserKind.HUMAN,
        username="webauthn",
        login_name="webauthn@recording.example",
        state=UserState.ACTIVE,
        first_name="Web",
        last_name="Authn",
        nickname="",
        display_name="Web Authn",
        gender="",
        preferred_language="en",
        email="webauthn@recording.example",
        email_verified=True,
        phone="",
        phone_verified=False,
        password_change_required=False,
        created_at=at,
        updated_at=at,
    )


def registered(credential: dict[str, Any], kind: FactorKind) -> Factor:
    """The stored form of a recorded registration, enough for exclude/allow lists."""
    at = datetime(2026, 12, 6, tzinfo=UTC)
    transports = tuple(credential["response"].get("transports", ()))
    return Factor(
        id="recorded",
        user_id=USER_ID,
        kind=kind,
        name="",
        ready=True,
        created_at=at,
        last_used_at=None,
        credential_id=credential["id"],
        transports=transports,
    )


class Recorder:
    def __init__(self, page: Page, cdp: CDPSession, service: WebAuthnService, out: Path) -> None:
        self.page, self.cdp, self.service, self.out = page, cdp, service, out
        self.version = page.context.browser.version if page.context.browser else "?"

    @contextmanager
    def authenticator(self, options: dict[str, Any]) -> Iterator[str]:
        found = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        authenticator_id = str(found["authenticatorId"])
        try:
            yield authenticator_id
        finally:
            self.cdp.send(
                "WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator_id}
            )

    def run(
        self,
        name: str,
        kind: str,
        ceremony: Ceremony,
        description: str,
        change: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        options = json.loads(ceremony.options_json)
        if change is not None:
            change(options)
        credential = self.page.evaluate(CEREMONY_JS, [kind, options])
        fixture = {
            "description": description,
            "recorded_with": f"Chromium {self.version}, CDP virtual authenticator",
            "origin": self.service.origin,
            "rp_id": self.service.rp_id,
            "user_id": USER_ID,
            "challenge": ceremony.challenge,
            "options": options,
            "credential": credential,
        }
        (self.out / f"{name}.json").write_text(json.dumps(fixture, indent=2) + "\n")
        print(f"{name}: {description}")
        return dict(credential)


def record_security_key(rec: Recorder, user: User) -> None:
    service = rec.service
    with rec.authenticator(SECURITY_KEY):
        none = rec.run(
            "security_key_registration_none",
            "create",
            service.registration(user, [], passkey=False),
            "a security key (no resident key, no user verification), attestation none",
        )
        allow = [registered(none, FactorKind.U2F)]
        for n in (1, 2):
            rec.run(
                f"security_key_assertion_{n}",
                "get",
                service.authentication(allow, user_verification=False),
                f"assertion number {n} with the attestation-none credential",
            )
    # Another key: the first one would refuse options that exclude its own credential.
    with rec.authenticator(SECURITY_KEY):
        rec.run(
            "security_key_registration_packed",
            "create",
            service.registration(user, allow, passkey=False),
            "a second security key, attestation direct (packed), the first one excluded",
            change=lambda options: options.update(attestation="direct"),
        )


def record_passkey(rec: Recorder, user: User) -> None:
    service = rec.service
    with rec.authenticator(PLATFORM):
        passkey = rec.run(
            "passkey_registration",
            "create",
            service.registration(user, [], passkey=True),
            "a passkey: resident key required, user verified, credProps asked",
        )
        rec.run(
            "passkey_assertion_discoverable",
            "get",
            service.authentication([], user_verification=True),
            "a passkey sign-in without a name (empty allowCredentials), user verified",
        )
        rec.run(
            "passkey_assertion_without_uv",
            "get",
            service.authentication(
                [registered(passkey, FactorKind.PASSKEY)], user_verification=False
            ),
            "the passkey with user verification discouraged: the UV flag is not set",
        )
    with rec.authenticator(PLATFORM):
        rec.run(
            "passkey_registration_not_resident",
            "create",
            service.registration(user, [], passkey=True),
            "resident key discouraged: Chromium then leaves credProps.rk out",
            change=_not_resident,
        )


def _not_resident(options: dict[str, Any]) -> None:
    options["authenticatorSelection"]["residentKey"] = "discouraged"
    options["authenticatorSelection"]["requireResidentKey"] = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    user = recording_user()
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    print(version.strip())
    with blank_site() as port, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"http://localhost:{port}/")
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        service = WebAuthnService(
            SystemClock(), origin=f"http://localhost:{port}", rp_name="zitui recordings"
        )
        rec = Recorder(page, cdp, service, args.out)
        record_security_key(rec, user)
        record_passkey(rec, user)
        browser.close()


if __name__ == "__main__":
    main()
