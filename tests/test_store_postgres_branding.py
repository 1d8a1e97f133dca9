"""Branding on PostgreSQL: settings, an organisation's copy of the default, and image bytes
read back as stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.branding_assets import CLEAN_SVG, png
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from zitui.core.context import RequestMeta
from zitui.core.services import open_services


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


async def test_branding_on_postgres(postgres_url: str, tmp_path: Path, clock):
    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        acme = (await services.orgs.create_org(admin, "Acme")).id
        await services.branding.set(admin, {"primary_color": "#111", "disable_watermark": True})
        await services.branding.upload_asset(admin, "logo_light", png())
        await services.branding.set(admin, {"font_color_dark": "#fafafa"}, acme)
        await services.branding.upload_asset(admin, "icon_dark", CLEAN_SVG, acme)

        own = await services.branding.for_login(acme)
        assert (own.source, own.light.primary, own.dark.font) == (acme, "#111111", "#fafafa")
        assert own.disable_watermark and set(own.assets) == {"logo_light", "icon_dark"}
        assert (await services.branding.asset(acme, "logo_light")).data == png()
        svg = await services.branding.asset(acme, "icon_dark")
        assert (svg.data, svg.info.content_type) == (CLEAN_SVG, "image/svg+xml")

        await services.branding.reset(admin, acme)
        assert (await services.branding.for_login(acme)).source == ""
        await services.orgs.remove_org(admin, acme)
    finally:
        await services.close()
