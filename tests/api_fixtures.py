"""Access tokens for the account API, obtained through a real authorization code flow."""

from __future__ import annotations

import base64
from urllib.parse import quote

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Client, Harness
from zitui.core.oidc.api_access import API_SCOPE
from zitui.records import User
from zitui.server import paths

API_SCOPES = f"openid profile email offline_access {API_SCOPE}"


def basic(client: Client) -> dict[str, str]:
    raw = f"{quote(client.client_id, safe='')}:{quote(client.secret or '', safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


async def api_tokens(
    harness: Harness, client: Client, user: User, *, scope: str = API_SCOPES
) -> dict[str, str]:
    """The token response of a code flow in which `user` signs in to `client` (`_cookie`:
    the browser that signed in)."""
    result = await harness.code_flow(client, user, scope=scope)
    data = {"grant_type": "authorization_code", "code": result["code"]}
    data["redirect_uri"] = fx.WEB_CALLBACK
    response = await harness.http.post(paths.TOKEN, data=data, headers=basic(client))
    assert response.status_code == 200, response.text
    return {**response.json(), "_cookie": result["_cookie"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
