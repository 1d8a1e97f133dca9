"""Branding of the login pages: colours for light and dark mode, font, switches, logos and
icons; the instance default (IAM_OWNER) and an organisation's own (its ORG_OWNER).

An organisation either inherits the instance default as a whole or has its own branding; its
first change starts from a copy of the default (assets included), and a reset removes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from zitui.core import images
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.settings_level import record_level_event, require_level
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.store import Repositories, Store
from zitui.store.repos.branding import AssetInfo, StoredAsset, StoredBranding

# The login-name page with an organisation's branding and no flow (served by the server).
BRANDING_PREVIEW_PATH = "/ui/login/preview"
ASSET_KINDS = ("logo_light", "logo_dark", "icon_light", "icon_dark")
COLOURS = ("primary", "background", "warning", "font")
COLOUR_FIELDS = tuple(f"{name}_color{suffix}" for suffix in ("", "_dark") for name in COLOURS)
SWITCHES = ("hide_login_name_suffix", "disable_watermark")
FIELDS = (*COLOUR_FIELDS, "font_family", *SWITCHES)
_COLOUR = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})")
# A CSS font-family list of installed (web-safe) fonts: names, quotes, commas; no url().
_FONT = re.compile(r"[A-Za-z0-9 ,\-\"']{0,200}")


@dataclass(frozen=True)
class Palette:
    """One mode's colours as `#rrggbb`; empty means the stylesheet's own colour."""

    primary: str = ""
    background: str = ""
    warning: str = ""
    font: str = ""


@dataclass(frozen=True)
class Branding:
    """The branding in force for the instance (`org_id=None`) or an organisation.

    `source` is the organisation whose stored branding this is ("" for the instance
    default), `inherited` is True when an organisation has none of its own, `stored` False
    when not even the instance default is stored (the stylesheet's own look).
    """

    org_id: str | None
    source: str
    inherited: bool
    stored: bool = False
    light: Palette = Palette()
    dark: Palette = Palette()
    font_family: str = ""
    hide_login_name_suffix: bool = False
    disable_watermark: bool = False
    assets: Mapping[str, AssetInfo] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The stored fields by name (`FIELDS`)."""
        values: dict[str, Any] = {}
        for suffix, palette in (("", self.light), ("_dark", self.dark)):
            values |= {f"{name}_color{suffix}": getattr(palette, name) for name in COLOURS}
        return values | {
            "font_family": self.font_family,
            "hide_login_name_suffix": self.hide_login_name_suffix,
            "disable_watermark": self.disable_watermark,
        }

    @classmethod
    def of(cls, org_id: str | None, stored: StoredBranding | None) -> Branding:
        source = stored.org_id if stored else ""
        inherited = org_id is not None and source != org_id
        if stored is None:
            return cls(org_id, source, inherited)
        values = stored.settings

        def palette(suffix: str) -> Palette:
            return Palette(**{name: values[f"{name}_color{suffix}"] for name in COLOURS})

        return cls(
            org_id,
            source,
            inherited,
            stored=True,
            light=palette(""),
            dark=palette("_dark"),
            font_family=values["font_family"],
            hide_login_name_suffix=bool(values["hide_login_name_suffix"]),
            disable_watermark=bool(values["disable_watermark"]),
            assets={info.kind: info for info in stored.assets},
        )


class BrandingService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def get(self, ctx: Context, org_id: str | None = None) -> Branding:
        """The branding in force for the instance (`org_id=None`) or an organisation."""
        await self._require(ctx, "read", org_id)
        async with self._store.reader() as tx:
            return await effective(tx, org_id)

    async def set(
        self, ctx: Context, changes: Mapping[str, Any], org_id: str | None = None
    ) -> Branding:
        """Change some fields (`FIELDS`); colours are `#rgb` or `#rrggbb` ("" for the
        stylesheet's own). Unchanged values are refused with `branding.unchanged`."""
        await self._require(ctx, "write", org_id)
        valid = validated(changes)
        async with self._store.transaction() as tx:
            current = await effective(tx, org_id)
            before = current.settings()
            changed = {name: v for name, v in valid.items() if before[name] != v}
            if not changed:
                raise PreconditionFailed(
                    "branding.unchanged", "the branding already has these values"
                )
            await _own(tx, ctx, current, before | changed)
            await self._record(tx, ctx, org_id, "changed", {"changes": changed})
            return await effective(tx, org_id)

    async def reset(self, ctx: Context, org_id: str | None = None) -> Branding:
        """Remove an organisation's own branding (it inherits the default again), or the
        instance default's (the stylesheet's own colours apply)."""
        await self._require(ctx, "write", org_id)
        async with self._store.transaction() as tx:
            if not await tx.branding.delete(org_id or ""):
                raise PreconditionFailed(
                    "branding.not_overridden", "there is no own branding to reset"
                )
            await self._record(tx, ctx, org_id, "reset", {})
            return await effective(tx, org_id)

    async def upload_asset(
        self, ctx: Context, kind: str, data: bytes, org_id: str | None = None
    ) -> AssetInfo:
        """Store a logo or icon; its type is read from its content (PNG, WebP, SVG), its size
        is limited (`images.MAX_BYTES`) and a hostile SVG is refused (see `images`)."""
        await self._require(ctx, "write", org_id)
        kind = asset_kind(kind)
        content_type = images.content_type(data)
        info = AssetInfo(kind, content_type, hashlib.sha256(data).hexdigest(), len(data))
        async with self._store.transaction() as tx:
            current = await effective(tx, org_id)
            known = current.assets.get(kind)
            if not current.inherited and known is not None and known.sha256 == info.sha256:
                raise PreconditionFailed("branding.asset_unchanged", "this file is already in use")
            await _own(tx, ctx, current, current.settings())
            await tx.branding.save_asset(org_id or "", info, data, at=ctx.now())
            payload = {"kind": kind, "content_type": content_type, "sha256": info.sha256}
            await self._record(tx, ctx, org_id, "asset.added", payload)
        return info

    async def upload_asset_file(
        self, ctx: Context, kind: str, path: Path, org_id: str | None = None
    ) -> AssetInfo:
        """`upload_asset` with the bytes of a file on this machine (the console's way)."""
        await self._require(ctx, "write", org_id)
        data = await asyncio.to_thread(read_asset_file, path)  # file I/O off the event loop
        return await self.upload_asset(ctx, kind, data, org_id)

    async def remove_asset(self, ctx: Context, kind: str, org_id: str | None = None) -> None:
        """Remove a logo or icon (an inheriting organisation gets its own branding without it)."""
        await self._require(ctx, "write", org_id)
        kind = asset_kind(kind)
        async with self._store.transaction() as tx:
            current = await effective(tx, org_id)
            if kind not in current.assets:
                raise NotFound("branding.asset_not_found", "there is no such logo or icon")
            await _own(tx, ctx, current, current.settings())
            await tx.branding.delete_asset(org_id or "", kind)
            await self._record(tx, ctx, org_id, "asset.removed", {"kind": kind})

    async def for_login(self, org_id: str) -> Branding:
        """What a login page shows for the organisation in its context ("" for none): its own
        branding, else the instance default. Public: the pages are shown before sign-in."""
        async with self._store.reader() as tx:
            return await effective(tx, org_id or None)

    async def asset(self, source: str, kind: str) -> StoredAsset:
        """The bytes of a logo or icon stored for `source` ("" for the instance default)."""
        kind = asset_kind(kind)
        async with self._store.reader() as tx:
            found = await tx.branding.find_asset(source, kind)
        if found is None:
            raise NotFound("branding.asset_not_found", "there is no such logo or icon")
        return found

    async def _require(self, ctx: Context, access: str, org_id: str | None) -> None:
        await require_level(self._authz, self._store, ctx, access, org_id)

    async def _record(
        self,
        tx: Repositories,
        ctx: Context,
        org_id: str | None,
        action: str,
        payload: dict[str, Any],
    ) -> None:
        await record_level_event(tx, ctx, "branding", org_id, action, payload)


def preview_url(issuer: str, org_id: str | None) -> str:
    """Where a manager sees the login page with an organisation's branding (None: the
    instance default's)."""
    query = f"?{urlencode({'org': org_id})}" if org_id else ""
    return f"{issuer.rstrip('/')}{BRANDING_PREVIEW_PATH}{query}"


def read_asset_file(path: Path) -> bytes:
    """A logo or icon file's bytes; unreadable files and files over the limit are refused
    without reading more than the limit."""
    try:
        with path.expanduser().open("rb") as file:
            data = file.read(images.MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidArgument(
            "branding.file_unreadable", f"cannot read {path}: {exc.strerror or exc}", field="file"
        ) from exc
    return data


def validated(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes with colours in `#rrggbb`; unknown fields and bad values are refused."""
    valid: dict[str, Any] = {}
    for name, value in changes.items():
        if name in COLOUR_FIELDS:
            valid[name] = colour(value, field=name)
        elif name == "font_family":
            valid[name] = font_family(value)
        elif name in SWITCHES:
            if not isinstance(value, bool):
                raise InvalidArgument(
                    "branding.switch_invalid", f"{name} is true or false", field=name
                )
            valid[name] = value
        else:
            raise InvalidArgument(
                "branding.field_unknown", f"unknown branding field {name!r}", field=name
            )
    return valid


def colour(value: object, *, field: str) -> str:
    """`#rgb` or `#rrggbb` as lower-case `#rrggbb`; "" stays "" (the stylesheet's colour)."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "":
        return ""
    match = _COLOUR.fullmatch(text) if text is not None else None
    if match is None:
        raise InvalidArgument(
            "branding.colour_invalid", "a colour is written #rgb or #rrggbb", field=field
        )
    digits = match.group(1)
    return "#" + (digits if len(digits) == 6 else "".join(d * 2 for d in digits))


def font_family(value: object) -> str:
    """A CSS font-family list of fonts installed on the reader's machine (no web fonts)."""
    text = " ".join(value.split()) if isinstance(value, str) else None
    if text is None or not _FONT.fullmatch(text) or text.count('"') % 2 or text.count("'") % 2:
        raise InvalidArgument(
            "branding.font_invalid",
            "a font family is a list of font names separated by commas",
            field="font_family",
        )
    return text


def asset_kind(kind: str) -> str:
    if kind not in ASSET_KINDS:
        raise InvalidArgument(
            "branding.asset_kind_invalid",
            f"an asset is one of {', '.join(ASSET_KINDS)}",
            field="kind",
        )
    return kind


async def effective(tx: Repositories, org_id: str | None) -> Branding:
    """Inside a transaction: the organisation's own branding, else the instance default."""
    sources = (org_id, "") if org_id else ("",)
    return Branding.of(org_id, await tx.branding.find_first(sources))


async def _own(tx: Repositories, ctx: Context, current: Branding, settings: dict[str, Any]) -> None:
    """Store `settings` as the own branding of `current`'s organisation (or the instance);
    an inheriting organisation's first one starts with copies of the default's assets."""
    target = current.org_id or ""
    new = current.inherited or not current.stored
    await tx.branding.save(target, settings, at=ctx.now(), new=new)
    if current.inherited:
        await tx.branding.copy_assets(current.source, target, at=ctx.now())
