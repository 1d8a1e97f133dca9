"""Branding in a blueprint: `[branding]` for the instance default, `[orgs.branding]` for an
organisation's own. Colours, font and switches are checked by the branding service's rules and
logos and icons (file paths relative to the blueprint) by its image checks when the file is
read; applying sets only what differs, so the same file and the same bytes change nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zitui.blueprint.reading import BlueprintError, Table, describe
from zitui.blueprint.state import ApplyState, at
from zitui.core import branding, images
from zitui.errors import InvalidArgument

KEY = "branding"
SETTING_KEYS = branding.FIELDS
BRANDING_KEYS = (*SETTING_KEYS, *branding.ASSET_KINDS)


@dataclass(frozen=True)
class BrandingSpec:
    """The settings the file names (as the service stores them) and the assets' bytes."""

    path: str
    settings: dict[str, Any] = field(default_factory=dict)
    assets: dict[str, bytes] = field(default_factory=dict)


def parse_branding(parent: Table, base_dir: Path) -> BrandingSpec | None:
    """The `branding` table of `parent` (the file's top or an organisation); None if missing."""
    t = parent.table(KEY, BRANDING_KEYS)
    if t is None:
        return None
    settings: dict[str, Any] = {}
    for key in SETTING_KEYS:
        if not t.has(key):
            continue
        value = t.flag(key) if key in branding.SWITCHES else t.text(key)
        try:
            settings |= branding.validated({key: value})
        except InvalidArgument as exc:
            raise BlueprintError(
                t.at(key), f"{describe(value)}: {exc.message}", code=exc.code
            ) from exc
    assets = {kind: _asset(t, kind, base_dir) for kind in branding.ASSET_KINDS if t.has(kind)}
    return BrandingSpec(path=t.path, settings=settings, assets=assets)


def _asset(t: Table, kind: str, base_dir: Path) -> bytes:
    name = t.text(kind, name=True)
    path = base_dir / Path(name).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BlueprintError(
            t.at(kind), f"cannot read {describe(name)}: {exc.strerror or exc}"
        ) from exc
    try:
        images.content_type(data)
    except InvalidArgument as exc:
        raise BlueprintError(t.at(kind), f"{describe(name)}: {exc.message}", code=exc.code) from exc
    return data


async def apply_branding(
    state: ApplyState, spec: BrandingSpec | None, *, org_id: str | None, owner: str
) -> None:
    """Set the settings and assets that differ from the branding in force; an organisation
    whose file values all match the default it inherits keeps inheriting."""
    if spec is None:
        return
    service, ctx = state.services.branding, state.ctx
    with at(spec.path, BRANDING_KEYS):
        current = await service.get(ctx, org_id)
        before = current.settings()
        changes = {k: v for k, v in spec.settings.items() if before[k] != v}
        if changes:
            await service.set(ctx, changes, org_id)
            state.changed(f"branding of {owner}: {', '.join(sorted(changes))}")
    for kind, data in spec.assets.items():
        current = await service.get(ctx, org_id)
        known = current.assets.get(kind)
        if not current.inherited and known and known.sha256 == hashlib.sha256(data).hexdigest():
            continue
        with at(spec.path, BRANDING_KEYS, aliases={"file": kind}):
            await service.upload_asset(ctx, kind, data, org_id)
        what = f"{kind.replace('_', ' ')} of {owner}"
        if known is None:
            state.created(what)
        else:
            state.changed(what)
