"""A strict certified relying party (npm `openid-client` 6, `tests/rp/rp.mjs`) against a real
`zitui serve`: discovery, the code flow with PKCE through the hosted login pages, the ID token
checks (iss, aud, azp, nonce, at_hash, signature, iat/exp), userinfo and a refresh."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.processes import free_port, run, spawn, wait_healthy, zitui_env
from zitui.core.apps import OidcConfigChange
from zitui.core.services import open_services

RP_DIR = Path(__file__).parent / "rp"
PASSWORD = "Rita-Pass-1!"
CODE_FLOW = ("authorization_code", "refresh_token")

BLUEPRINT = """
[[orgs]]
name = "Relying"
domain = "relying.example.com"

[orgs.login_policy]
mfa_init_skip_lifetime = 0  # the sign-in goes straight back to the RP, no MFA set-up prompt

[[orgs.users]]
username = "rita"
email = "rita@relying.example.com"
email_verified = true
first_name = "Rita"
last_name = "Party"
password = "{password}"

[[orgs.projects]]
name = "Certified"

[[orgs.projects.apps]]
name = "web"
type = "web"
auth_method = "basic"
redirect_uris = ["{callback}"]
dev_mode = true

[[orgs.projects.apps]]
name = "spa"
type = "user_agent"
auth_method = "none"
redirect_uris = ["{callback}"]
dev_mode = true
"""


@dataclass
class Provider:
    issuer: str
    callback: str
    credentials: dict[str, Any]
    user_id: str


def node() -> str:
    local = RP_DIR / "node_modules" / ".bin" / "node"  # `npm install node@22`, if ever needed
    found = str(local) if local.exists() else shutil.which("node")
    if found is None or not (RP_DIR / "node_modules" / "openid-client").is_dir():
        pytest.fail("node and tests/rp/node_modules are needed: run `make tests/rp/node_modules`")
    return found


async def allow_refresh(data_dir: Path, listen: str) -> str:
    """Blueprints give apps the code grant only: add refresh_token; the user's id."""
    services, _ = await open_services(make_settings(data_dir, listen=listen))
    try:
        ctx = services.system_context()
        org = await services.orgs.find_org_by_name(ctx, "Relying")
        assert org is not None
        project = await services.projects.find_project_by_name(ctx, org.id, "Certified")
        assert project is not None
        for app in (await services.apps.list_apps(ctx, project.id)).items:
            await services.apps.update_oidc_config(
                ctx, app.id, OidcConfigChange(grant_types=CODE_FLOW)
            )
        user = await services.users.find_user_by_username(ctx, org.id, "rita")
        assert user is not None
        return user.id
    finally:
        await services.close()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    base = tmp_path_factory.mktemp("openid-client")
    data, out, blueprint = base / "data", base / "creds.json", base / "rp.toml"
    port = free_port()
    listen = f"127.0.0.1:{port}"
    issuer = f"http://{listen}"
    callback = f"{issuer}/cb"
    blueprint.write_text(BLUEPRINT.format(password=PASSWORD, callback=callback))
    env = zitui_env(data)
    applied = run(["apply", str(blueprint), "--data", str(data), "--out", str(out)], env)
    assert applied.returncode == 0, applied.stderr
    user_id = asyncio.run(allow_refresh(data, listen))
    process = spawn(["serve", "--listen", listen], env)
    try:
        wait_healthy(issuer, process)
        yield Provider(issuer, callback, json.loads(out.read_text()), user_id)
    finally:
        process.terminate()
        process.communicate(timeout=15)


def relying_party(provider: Provider, app: str) -> dict[str, Any]:
    creds = provider.credentials[f"Relying/Certified/{app}"]
    args = [
        node(),
        str(RP_DIR / "rp.mjs"),
        provider.issuer,
        creds["client_id"],
        creds.get("client_secret", "-"),
        provider.callback,
        "rita@relying.example.com",
        PASSWORD,
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=RP_DIR)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(found, indent=1))
    return found


def assert_signed_in(found: dict[str, Any], provider: Provider, client_id: str) -> None:
    assert found["issuer"] == provider.issuer
    claims = found["claims"]
    assert claims["iss"] == provider.issuer
    assert claims["sub"] == provider.user_id
    assert client_id in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
    assert claims["azp"] == client_id
    assert claims["at_hash"] and claims["nonce"]  # openid-client checked both against its own
    assert claims["amr"] == ["pwd"]
    userinfo = found["userinfo"]
    assert userinfo["sub"] == provider.user_id
    assert userinfo["email"] == "rita@relying.example.com"
    assert userinfo["email_verified"] is True
    assert userinfo["name"] == "Rita Party"
    assert (userinfo["given_name"], userinfo["family_name"]) == ("Rita", "Party")
    assert found["has_refresh_token"]
    refreshed = found["refreshed"]
    assert refreshed["access_token_changed"] and refreshed["has_refresh_token"]
    assert refreshed["userinfo_sub"] == refreshed["id_token_sub"] == provider.user_id


def test_a_confidential_web_app_signs_in_with_openid_client(provider: Provider) -> None:
    found = relying_party(provider, "web")
    assert_signed_in(found, provider, provider.credentials["Relying/Certified/web"]["client_id"])


def test_a_public_client_signs_in_with_pkce_alone(provider: Provider) -> None:
    found = relying_party(provider, "spa")
    assert_signed_in(found, provider, provider.credentials["Relying/Certified/spa"]["client_id"])
