"""The branding screen: the instance default from the home screen, an organisation's own from
its screen; colours, switches, images from a file path, removing, resetting, the preview."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.branding_assets import CLEAN_SVG, HOSTILE_SVGS, png
from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    error_messages,
    fill,
    first_column,
    notifications,
    opened_store,
    press,
    rows,
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Organization, Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.branding import BrandingScreen
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.home import HomeScreen
from zitui.screens.org import OrgScreen


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


@pytest.fixture
async def acme(services: Services) -> Organization:
    return await services.orgs.create_org(services.system_context(), "Acme")


def keys(app: ZituiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


def row(app: ZituiApp, setting: str) -> tuple[str, ...]:
    [found] = [r for r in rows(app, "branding") if r[0] == setting]
    return found


async def test_edit_the_instance_default_and_reset_it(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "b")
        assert isinstance(app.screen, BrandingScreen)
        assert "Nothing set" in text(app, "#section-detail")
        assert row(app, "Primary") == ("Primary", "—", "")
        assert "reset" not in keys(app) and "remove" not in keys(app)

        await press(pilot, "e")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#primary_color", "crimson")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert "#rgb or #rrggbb" in text(app, "#primary_color-message")
        await fill(pilot, "#primary_color", "#C2185B")
        await fill(pilot, "#background_color_dark", "#123")
        await fill(pilot, "#font_family", "Georgia, serif")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, BrandingScreen)
        assert row(app, "Primary") == ("Primary", "#c2185b", "")
        assert row(app, "Background") == ("Background", "—", "#112233")
        assert row(app, "Font family")[1] == "Georgia, serif"
        assert "The instance default" in text(app, "#section-detail")
        stored = await services.branding.get(services.system_context())
        assert (stored.light.primary, stored.dark.background) == ("#c2185b", "#112233")

        await press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "y")
        assert row(app, "Primary") == ("Primary", "—", "")
        assert not (await services.branding.get(services.system_context())).stored
        await press(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)
    assert error_messages(app) == ["a colour is written #rgb or #rrggbb"]


async def test_upload_images_from_a_path_and_remove_one(services: Services, tmp_path: Path) -> None:
    logo, evil = tmp_path / "logo.png", tmp_path / "evil.svg"
    logo.write_bytes(png())
    evil.write_bytes(HOSTILE_SVGS["onload"][0])
    (tmp_path / "icon.svg").write_bytes(CLEAN_SVG)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "b", "u")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#file", str(evil))
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert "event handler" in text(app, "#file-message")
        await fill(pilot, "#file", str(tmp_path / "missing.png"))
        await press(pilot, "ctrl+s")
        assert "cannot read" in text(app, "#file-message")
        await fill(pilot, "#file", str(logo))
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, BrandingScreen)
        assert row(app, "Logo") == ("Logo", "image/png, 1 KiB", "—")

        await press(pilot, "x")
        assert isinstance(app.screen, FormModal)
        await press(pilot, "ctrl+s")
        assert row(app, "Logo") == ("Logo", "—", "—")
    assert len(error_messages(app)) == 2
    assert (await services.branding.get(services.system_context())).assets == {}


async def test_an_org_owner_brands_their_organisation_then_inherits_again(
    services: Services, acme: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = services.system_context()
    await services.branding.set(system, {"primary_color": "#1b5e20"})
    owner = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="olga", first_name="Olga", last_name="O", password="Olga-Pass-1"),
    )
    await services.memberships.add_member(system, owner.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    opened: list[str] = []
    monkeypatch.setattr("zitui.screens.branding.open_in_browser", lambda url: opened.append(url))
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "olga", "Olga-Pass-1")
        assert "branding" not in keys(app)  # the instance default is not hers
        await press(pilot, "o")
        assert first_column(app, "orgs") == ["Acme"]
        await press(pilot, "enter")
        assert isinstance(app.screen, OrgScreen)
        await press(pilot, "b")
        assert isinstance(app.screen, BrandingScreen)
        assert "Organisation Acme" in text(app, "#section-title")
        assert "Inherits the instance default" in text(app, "#section-detail")
        assert row(app, "Primary")[1] == "#1b5e20"

        await press(pilot, "e")
        await fill(pilot, "#primary_color", "#c2185b")
        await press(pilot, "ctrl+s")
        assert row(app, "Primary")[1] == "#c2185b"
        assert "own branding" in text(app, "#section-detail")

        await press(pilot, "p")
        url = f"{services.settings.issuer}/ui/login/preview?org={acme.id}"
        assert opened == [url]
        assert url in notifications(app)[-1].message
        assert url in text(app, "#branding-preview")

        await press(pilot, "d", "y")
        assert "Inherits the instance default" in text(app, "#section-detail")
        assert row(app, "Primary")[1] == "#1b5e20"
    assert error_messages(app) == []
    assert (await services.branding.get(system)).light.primary == "#1b5e20"
