"""OpenID Connect RP-Initiated Logout 1.0 (`/oidc/v1/end_session`).

§2: `id_token_hint`, `client_id`, `post_logout_redirect_uri`, `state`, `ui_locales`,
`logout_hint`. The hint must be an ID token this provider signed (its expiry does not matter,
§4); `client_id`, when both are given, must be the hint's client. The post-logout URI is
honoured only for an identified client and only on an exact match with one it registered
(§3); otherwise nothing is redirected to (a page explains). Logging out ends every session
of this browser, as ZITADEL's login v1 does, so a later `prompt=none` answers
`login_required`. `state` goes back only with a redirect to the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from zitui.core.clock import Clock
from zitui.core.context import Context
from zitui.core.oidc.authorization_request import verified_id_token
from zitui.core.oidc.keys import KeyService
from zitui.core.sessions import SessionService
from zitui.errors import InvalidArgument
from zitui.records import OidcClient
from zitui.store import Store


@dataclass(frozen=True)
class EndSessionParams:
    id_token_hint: str = ""
    client_id: str = ""
    post_logout_redirect_uri: str = ""
    state: str = ""
    ui_locales: str = ""
    logout_hint: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> EndSessionParams:
        names = cls.__dataclass_fields__
        return cls(**{name: str(values[name]) for name in names if name in values})


@dataclass(frozen=True)
class Logout:
    """The sessions ended, and where to send the browser (None: the logged-out page)."""

    ended: tuple[str, ...]
    location: str | None
    # No valid id_token_hint: nothing was ended; the user must confirm (a form with CSRF).
    needs_confirmation: bool = False


class RPInitiatedLogout:
    """The logout half of `AuthRequestService`."""

    _store: Store
    _keys: KeyService
    _sessions: SessionService
    _clock: Clock
    issuer: str

    async def end_session(
        self,
        ctx: Context,
        params: EndSessionParams,
        *,
        browser_cookie: str = "",
        confirmed: bool = False,
    ) -> Logout:
        """Sign the browser out and say where to go; InvalidArgument (a page, no logout and
        no redirect) for a bad hint, a client mismatch or an unregistered URI.

        Without an `id_token_hint` a bare link could sign anyone out (logout CSRF), so the
        browser is signed out only once the user `confirmed` it on a form of ours (§2: the
        OP SHOULD ask the user whether to log out).
        """
        client = await self._logout_client(params)
        target = params.post_logout_redirect_uri
        if target and (client is None or target not in client.post_logout_redirect_uris):
            raise InvalidArgument(
                "end_session.post_logout_redirect_uri",
                "the post_logout_redirect_uri is not registered for this application",
                field="post_logout_redirect_uri",
            )
        if not params.id_token_hint and not confirmed:
            return Logout(ended=(), location=None, needs_confirmation=True)
        ended = await self._sessions.terminate_browser(browser_cookie, request=ctx.request)
        if not target:
            return Logout(ended=tuple(ended), location=None)
        query = urlencode({"state": params.state}) if params.state else ""
        separator = "&" if "?" in target else "?"
        return Logout(
            ended=tuple(ended), location=f"{target}{separator}{query}" if query else target
        )

    async def _logout_client(self, params: EndSessionParams) -> OidcClient | None:
        client_id = params.client_id
        if params.id_token_hint:
            keys = await self._keys.public_keys()
            claims = verified_id_token(params.id_token_hint, keys=keys, issuer=self.issuer)
            if claims is None:
                raise InvalidArgument(
                    "end_session.id_token_hint",
                    "the id_token_hint was not issued by this provider",
                    field="id_token_hint",
                )
            hinted = _client_of(claims)
            if client_id and client_id != hinted:
                raise InvalidArgument(
                    "end_session.client_mismatch",
                    "client_id and the id_token_hint name different applications",
                    field="client_id",
                )
            client_id = hinted
        if not client_id:
            return None
        async with self._store.reader() as tx:
            client = await tx.oidc_clients.find_by_client_id(client_id)
        if client is None:
            raise InvalidArgument(
                "end_session.client_unknown", "the application is unknown", field="client_id"
            )
        return client


def _client_of(claims: Mapping[str, object]) -> str:
    """The client an ID token was issued to: `azp`, else its only audience."""
    azp = claims.get("azp")
    if isinstance(azp, str):
        return azp
    audience = claims.get("aud")
    if isinstance(audience, str):
        return audience
    if isinstance(audience, list) and len(audience) == 1 and isinstance(audience[0], str):
        return audience[0]
    return ""
