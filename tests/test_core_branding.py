"""Branding: the instance default and an organisation's own, its colours, switches, logos and
icons, with uploads checked by content and hostile SVGs refused."""

from __future__ import annotations

import hashlib

import pytest

from tests.branding_assets import CLEAN_SVG, HOSTILE_SVGS, WEBP, png
from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from zitui.core.branding import Palette
from zitui.core.images import MAX_BYTES
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed


async def test_nothing_stored_means_the_stylesheets_look(services, admin):
    instance = await services.branding.get(admin)
    assert (instance.org_id, instance.inherited, instance.stored) == (None, False, False)
    assert instance.light == Palette() and instance.assets == {}
    acme = await services.orgs.create_org(admin, "Acme")
    assert (await services.branding.get(admin, acme.id)).inherited


async def test_instance_default_set_with_normalised_colours_and_audited(services, admin):
    event = await _one_event(
        services,
        lambda: services.branding.set(
            admin,
            {"primary_color": "#ABC", "font_color_dark": "#f0F0f0", "disable_watermark": True},
        ),
    )
    assert event.event_type == "instance.branding.changed"
    assert event.org_id is None
    assert event.payload == {
        "changes": {
            "primary_color": "#aabbcc",
            "font_color_dark": "#f0f0f0",
            "disable_watermark": True,
        }
    }
    branding = await services.branding.get(admin)
    assert branding.light.primary == "#aabbcc" and branding.dark.font == "#f0f0f0"
    assert branding.disable_watermark and not branding.hide_login_name_suffix

    # A partial change keeps the rest.
    await services.branding.set(admin, {"background_color": "#000000"})
    branding = await services.branding.get(admin)
    assert (branding.light.primary, branding.light.background) == ("#aabbcc", "#000000")
    with pytest.raises(PreconditionFailed) as caught:
        await services.branding.set(admin, {"background_color": "#000"})
    assert caught.value.code == "branding.unchanged"


async def test_an_organisation_inherits_then_owns_then_resets(services, admin):
    acme = await services.orgs.create_org(admin, "Acme")
    await services.branding.set(admin, {"primary_color": "#111111", "warning_color": "#ff0000"})
    await services.branding.upload_asset(admin, "logo_light", png())

    inherited = await services.branding.get(admin, acme.id)
    assert inherited.inherited and inherited.source == ""
    assert inherited.light.primary == "#111111" and "logo_light" in inherited.assets

    event = await _one_event(
        services, lambda: services.branding.set(admin, {"primary_color": "#c2185b"}, acme.id)
    )
    assert (event.event_type, event.org_id) == ("org.branding.changed", acme.id)
    own = await services.branding.get(admin, acme.id)
    assert not own.inherited and own.source == acme.id
    # The first change starts from the default: its other values and its logo.
    assert (own.light.primary, own.light.warning) == ("#c2185b", "#ff0000")
    assert own.assets["logo_light"].sha256 == hashlib.sha256(png()).hexdigest()
    assert (await services.branding.get(admin)).light.primary == "#111111"

    # A later change of the default no longer reaches the organisation.
    await services.branding.set(admin, {"warning_color": "#00ff00"})
    assert (await services.branding.get(admin, acme.id)).light.warning == "#ff0000"

    reset = await _one_event(services, lambda: services.branding.reset(admin, acme.id))
    assert reset.event_type == "org.branding.reset"
    back = await services.branding.get(admin, acme.id)
    assert back.inherited and back.light.warning == "#00ff00"
    assert rows_for(services, acme.id) == []
    with pytest.raises(PreconditionFailed) as caught:
        await services.branding.reset(admin, acme.id)
    assert caught.value.code == "branding.not_overridden"


def rows_for(services, org_id: str) -> list[tuple[object, ...]]:
    return rows(
        services.settings.data_dir,
        f"SELECT kind FROM branding_assets WHERE org_id = '{org_id}'",
    )


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"primary_color": "red"}, "branding.colour_invalid", "primary_color"),
        ({"primary_color": "#12345"}, "branding.colour_invalid", "primary_color"),
        ({"background_color_dark": "#gggggg"}, "branding.colour_invalid", "background_color_dark"),
        ({"font_color": 123}, "branding.colour_invalid", "font_color"),
        ({"font_family": "Arial; } body { display: none"}, "branding.font_invalid", "font_family"),
        ({"font_family": "url(https://x)"}, "branding.font_invalid", "font_family"),
        ({"font_family": '"Unbalanced, serif'}, "branding.font_invalid", "font_family"),
        ({"disable_watermark": "yes"}, "branding.switch_invalid", "disable_watermark"),
        ({"logo": "x"}, "branding.field_unknown", "logo"),
    ],
)
async def test_bad_values_are_refused_with_their_field(services, admin, changes, code, field):
    with pytest.raises(InvalidArgument) as caught:
        await services.branding.set(admin, changes)
    assert (caught.value.code, caught.value.field) == (code, field)
    await _no_event(services, lambda: services.branding.set(admin, changes), InvalidArgument)


async def test_a_web_safe_font_family_is_kept(services, admin):
    await services.branding.set(admin, {"font_family": ' Georgia,  "Times New Roman", serif '})
    assert (await services.branding.get(admin)).font_family == 'Georgia, "Times New Roman", serif'


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(png(), "image/png"), (WEBP, "image/webp"), (CLEAN_SVG, "image/svg+xml")],
    ids=["png", "webp", "svg"],
)
async def test_clean_images_are_accepted_by_content(services, admin, data, content_type):
    event = await _one_event(
        services, lambda: services.branding.upload_asset(admin, "icon_dark", data)
    )
    assert event.event_type == "instance.branding.asset.added"
    assert event.payload["content_type"] == content_type
    stored = await services.branding.asset("", "icon_dark")
    assert (stored.data, stored.info.content_type) == (data, content_type)
    assert stored.info.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.info.size == len(data)
    with pytest.raises(PreconditionFailed) as caught:
        await services.branding.upload_asset(admin, "icon_dark", data)
    assert caught.value.code == "branding.asset_unchanged"


@pytest.mark.parametrize("name", list(HOSTILE_SVGS))
async def test_hostile_svgs_are_refused(services, admin, name):
    data, code = HOSTILE_SVGS[name]
    with pytest.raises(InvalidArgument) as caught:
        await services.branding.upload_asset(admin, "logo_light", data)
    assert caught.value.code == code
    await _no_event(
        services,
        lambda: services.branding.upload_asset(admin, "logo_light", data),
        InvalidArgument,
    )
    assert (await services.branding.get(admin)).assets == {}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "branding.asset_empty"),
        (b"GIF89a" + b"\x00" * 20, "branding.asset_type"),
        (b"%PDF-1.7", "branding.asset_type"),
        (png() + b"\x00" * MAX_BYTES, "branding.asset_too_large"),
    ],
    ids=["empty", "gif", "pdf", "too large"],
)
async def test_other_files_are_refused(services, admin, data, code):
    with pytest.raises(InvalidArgument) as caught:
        await services.branding.upload_asset(admin, "logo_light", data)
    assert caught.value.code == code


async def test_an_unknown_kind_is_refused(services, admin):
    with pytest.raises(InvalidArgument) as caught:
        await services.branding.upload_asset(admin, "favicon", png())
    assert caught.value.code == "branding.asset_kind_invalid"


async def test_removing_an_asset(services, admin):
    acme = await services.orgs.create_org(admin, "Acme")
    await services.branding.upload_asset(admin, "logo_dark", png())
    # An inheriting organisation that removes the default's logo gets its own branding.
    event = await _one_event(
        services, lambda: services.branding.remove_asset(admin, "logo_dark", acme.id)
    )
    assert (event.event_type, event.payload) == (
        "org.branding.asset.removed",
        {"kind": "logo_dark"},
    )
    assert (await services.branding.get(admin, acme.id)).assets == {}
    assert "logo_dark" in (await services.branding.get(admin)).assets
    with pytest.raises(NotFound):
        await services.branding.remove_asset(admin, "logo_dark", acme.id)
    with pytest.raises(NotFound):
        await services.branding.asset(acme.id, "logo_dark")


async def test_login_pages_read_the_organisations_or_the_default(services, admin):
    acme = await services.orgs.create_org(admin, "Acme")
    other = await services.orgs.create_org(admin, "Other")
    await services.branding.set(admin, {"primary_color": "#111111"})
    await services.branding.set(admin, {"primary_color": "#c2185b"}, acme.id)
    assert (await services.branding.for_login(acme.id)).light.primary == "#c2185b"
    assert (await services.branding.for_login(other.id)).light.primary == "#111111"
    assert (await services.branding.for_login("")).light.primary == "#111111"
    assert (await services.branding.for_login("no-such-org")).source == ""


async def test_an_org_owner_brands_only_their_own_organisation(services, admin):
    owner = await sign_in_org_owner(services, admin, "Acme")
    acme_id = owner.actor.org_id
    other = await services.orgs.create_org(admin, "Other")
    await services.branding.set(owner, {"primary_color": "#c2185b"}, acme_id)
    await services.branding.upload_asset(owner, "logo_light", CLEAN_SVG, acme_id)
    assert (await services.branding.get(owner, acme_id)).light.primary == "#c2185b"
    await assert_denied(
        services, lambda: services.branding.set(owner, {"primary_color": "#000000"}, other.id)
    )
    await assert_denied(services, lambda: services.branding.get(owner, other.id))
    await assert_denied(services, lambda: services.branding.set(owner, {"primary_color": "#000"}))
    await assert_denied(
        services, lambda: services.branding.upload_asset(owner, "logo_light", png())
    )
    await assert_denied(services, lambda: services.branding.reset(owner, other.id))
    assert not (await services.branding.get(admin)).stored
    events = [e.event_type for e in await _events(services)]
    assert "org.branding.asset.added" in events


async def test_an_unknown_organisation_is_not_found(services, admin):
    with pytest.raises(NotFound):
        await services.branding.set(admin, {"primary_color": "#000"}, "no-such-org")


async def test_a_removed_organisation_leaves_no_branding_behind(services, admin):
    acme = await services.orgs.create_org(admin, "Acme")
    await services.branding.set(admin, {"primary_color": "#c2185b"}, acme.id)
    await services.branding.upload_asset(admin, "logo_light", png(), acme.id)
    await services.orgs.remove_org(admin, acme.id)
    data = services.settings.data_dir
    assert rows(data, f"SELECT org_id FROM branding WHERE org_id = '{acme.id}'") == []
    assert rows_for(services, acme.id) == []


async def test_a_refused_caller_learns_nothing_about_the_input(services, admin):
    owner = await sign_in_org_owner(services, admin, "Acme")
    other = await services.orgs.create_org(admin, "Other")
    hostile, _ = HOSTILE_SVGS["script"]
    await assert_denied(
        services, lambda: services.branding.upload_asset(owner, "logo_light", hostile, other.id)
    )
    await assert_denied(
        services, lambda: services.branding.set(owner, {"primary_color": "red"}, other.id)
    )
