"""A personal access token a blueprint declares with `expires` works until then, and only then."""

from __future__ import annotations

import tomllib
from datetime import timedelta

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, OffsetClock
from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.schema import parse
from zitui.core.services import Services
from zitui.server import paths

clock, harness = fx.clock, fx.harness

BLUEPRINT = """
[[orgs]]
name = "Ops"

[[orgs.machines]]
username = "deployer"
pat = {{ expires = "{expires}" }}

[[orgs.projects]]
name = "Deployments"

[[orgs.projects.apps]]
name = "api"
type = "api"
"""


async def test_a_declared_pat_is_active_until_it_expires(
    services: Services, harness: Harness, clock: OffsetClock
) -> None:
    expires = (clock.now() + timedelta(days=1)).replace(microsecond=0)
    text = BLUEPRINT.format(expires=expires.isoformat())
    credentials = (await apply_blueprint(services, parse(tomllib.loads(text)))).credentials
    pat = credentials["Ops/deployer"]["pat"]
    api = credentials["Ops/Deployments/api"]
    auth = (api["client_id"], api["client_secret"])

    async def introspect() -> dict[str, object]:
        response = await harness.http.post(paths.INTROSPECT, data={"token": pat}, auth=auth)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    found = await introspect()
    assert found["active"] is True
    assert found["exp"] == int(expires.timestamp())
    clock.advance(timedelta(days=1))
    assert await introspect() == {"active": False}
