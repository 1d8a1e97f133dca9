"""Branding in blueprints: `[branding]` and `[orgs.branding]` with colours, font, switches and
logo and icon files beside the blueprint; checked when read, applied once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.branding_assets import CLEAN_SVG, HOSTILE_SVGS, png
from tests.test_core_audit import _events
from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import load
from zitui.core.context import Context
from zitui.core.services import Services

BLUEPRINT = """
[branding]
primary_color = "#1B5E20"
disable_watermark = true
logo_light = "assets/instance-logo.png"

[[orgs]]
name = "Acme"

[orgs.branding]
primary_color = "#c2185b"
background_color_dark = "#101820"
font_family = "Georgia, serif"
hide_login_name_suffix = true
logo_light = "assets/acme.svg"
icon_dark = "assets/acme-icon.png"
"""


def write(folder: Path, text: str, files: dict[str, bytes]) -> Path:
    """The blueprint `text` as folder/zitui.toml, with `files` in folder/assets."""
    (folder / "assets").mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / "assets" / name).write_bytes(data)
    path = folder / "zitui.toml"
    path.write_text(text)
    return path


def standard_files(folder: Path) -> Path:
    files = {"instance-logo.png": png(), "acme.svg": CLEAN_SVG, "acme-icon.png": png((194, 24, 91))}
    return write(folder, BLUEPRINT, files)


def error(path: Path) -> BlueprintError:
    with pytest.raises(BlueprintError) as caught:
        load(path)
    return caught.value


async def test_the_instance_and_an_organisation_are_branded_from_the_file(
    services: Services, admin: Context, tmp_path: Path
):
    outcome = await apply_blueprint(services, load(standard_files(tmp_path)))
    assert "changed branding of the instance: disable_watermark, primary_color" in outcome.lines
    # Acme's first branding started from a copy of the default's logo, which its own replaced.
    assert "changed logo light of Acme" in outcome.lines
    assert "created icon dark of Acme" in outcome.lines

    instance = await services.branding.get(admin)
    assert instance.light.primary == "#1b5e20" and instance.disable_watermark
    assert instance.assets["logo_light"].sha256 == hashlib.sha256(png()).hexdigest()
    acme = await services.orgs.find_org_by_name(admin, "Acme")
    assert acme is not None
    own = await services.branding.get(admin, acme.id)
    assert not own.inherited
    assert (own.light.primary, own.dark.background) == ("#c2185b", "#101820")
    assert own.font_family == "Georgia, serif" and own.hide_login_name_suffix
    assert own.assets["logo_light"].content_type == "image/svg+xml"
    assert own.assets["icon_dark"].sha256 == hashlib.sha256(png((194, 24, 91))).hexdigest()


async def test_applying_the_same_file_and_bytes_again_changes_nothing(
    services: Services, admin: Context, tmp_path: Path
):
    path = standard_files(tmp_path)
    await apply_blueprint(services, load(path))
    before = len(await _events(services))
    outcome = await apply_blueprint(services, load(path))
    assert outcome.lines == []
    assert len(await _events(services)) == before

    # New bytes behind the same name are a change, and only that.
    (tmp_path / "assets" / "acme-icon.png").write_bytes(png((0, 0, 0)))
    outcome = await apply_blueprint(services, load(path))
    assert outcome.lines == ["changed icon dark of Acme"]
    new = (await _events(services))[: len(await _events(services)) - before]
    assert [e.event_type for e in new] == ["org.branding.asset.added"]


@pytest.mark.parametrize(
    ("branding", "place", "expected"),
    [
        ('primary_color = "red"', "branding.primary_color", "a colour is written #rgb or #rrggbb"),
        ("disable_watermark = 1", "branding.disable_watermark", "expected true or false"),
        ('logo = "x.png"', "branding.logo", "unknown key"),
        ('logo_dark = "assets/missing.png"', "branding.logo_dark", "cannot read"),
        ('icon_light = "assets/evil.svg"', "branding.icon_light", "the SVG holds a <script>"),
        ('font_family = "x; } body {"', "branding.font_family", "a font family is a list"),
    ],
)
def test_bad_branding_is_refused_at_its_place(
    tmp_path: Path, branding: str, place: str, expected: str
):
    path = write(tmp_path, f"[branding]\n{branding}\n", {"evil.svg": HOSTILE_SVGS["script"][0]})
    refused = error(path)
    assert refused.path == place
    assert expected in refused.problem


def test_an_organisations_asset_is_read_beside_the_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "conf"
    folder.mkdir()
    path = write(
        folder,
        '[[orgs]]\nname = "Acme"\n[orgs.branding]\nlogo_dark = "assets/l.png"\n',
        {"l.png": png()},
    )
    monkeypatch.chdir(tmp_path)
    blueprint = load(path)
    assert blueprint.orgs[0].branding is not None
    assert blueprint.orgs[0].branding.assets == {"logo_dark": png()}
