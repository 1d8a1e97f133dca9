"""Application keys for `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9), as ZITADEL issues them.

`add_app_key` returns ZITADEL's application key file once,
`{"type": "application", "keyId", "key", "appId", "clientId"}`, with the private key as PEM;
the store keeps only the public half. The app signs its client assertions with it
(header `kid` = `keyId`, `iss` = `sub` = client id, `aud` = the issuer).
"""

from __future__ import annotations

from datetime import datetime

from zitui.core import validation
from zitui.core.apps import load_app, record_app_event
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto.key_pairs import new_key_pair
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.errors import NotFound, PreconditionFailed
from zitui.records import App, AppKey, AuthMethod
from zitui.store import Store


class AppKeyCommands:
    """The application-key half of `KeyService`."""

    _store: Store
    _authz: Authorizer

    async def add_app_key(
        self, ctx: Context, app_id: str, expires_at: datetime | None = None
    ) -> tuple[AppKey, dict[str, str]]:
        """A new RSA key for an app that authenticates with `private_key_jwt`.

        Needs `project.app.write` on the app's project; one `project.application.key.added`
        event. Returns the key's record and, this once, the key file.
        """
        app = await self._authorized_app(ctx, "project.app.write", app_id)
        if app.auth_method is not AuthMethod.PRIVATE_KEY_JWT:
            raise PreconditionFailed(
                "app.key.auth_method",
                "only apps authenticating with private_key_jwt use keys",
                field="auth_method",
            )
        expires_at = validation.expiry(expires_at, now=ctx.now())
        private_pem, public_pem = await new_key_pair()
        key = AppKey(id=new_id(), app_id=app_id, created_at=ctx.now(), expires_at=expires_at)
        async with self._store.transaction() as tx:
            await load_app(tx, app_id)
            await tx.app_keys.insert(key, public_key_pem=public_pem)
            payload = {
                "key_id": key.id,
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
            await record_app_event(tx, ctx, "project.application.key.added", app, payload)
        key_file = {
            "type": "application",
            "keyId": key.id,
            "key": private_pem,
            "appId": app.id,
            "clientId": app.client_id,
        }
        return key, key_file

    async def list_app_keys(self, ctx: Context, app_id: str) -> list[AppKey]:
        await self._authorized_app(ctx, "project.app.read", app_id)
        async with self._store.reader() as tx:
            return await tx.app_keys.list_for_app(app_id)

    async def remove_app_key(self, ctx: Context, app_id: str, key_id: str) -> None:
        """The key stops authenticating the app at once."""
        app = await self._authorized_app(ctx, "project.app.write", app_id)
        async with self._store.transaction() as tx:
            if not await tx.app_keys.delete(app_id, key_id):
                raise NotFound("app.key.not_found", "the app has no such key", field="key_id")
            await record_app_event(
                tx, ctx, "project.application.key.removed", app, {"key_id": key_id}
            )

    async def _authorized_app(self, ctx: Context, permission: str, app_id: str) -> App:
        async with self._store.reader() as tx:
            app = await load_app(tx, app_id)
        await self._authz.require(
            ctx, permission, Resource(org_id=app.org_id, project_id=app.project_id)
        )
        return app
