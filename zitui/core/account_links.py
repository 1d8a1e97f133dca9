"""The signed-in user's links to external identity providers: list them, which providers they
may link next, the check before linking one, and removing a link.

Linking itself runs through the login flow (`LoginFlowService.start_linking`): the browser
goes to the provider and the callback links the identity it names. Removing a link is refused
when it would leave the user no way to sign in: no password, no passkey and no other link
(`PreconditionFailed("idp.last_way_in")`). Linking and removing ask for a sign-in within the
re-auth window, as changes of factors do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from zitui.core.account_base import AccountBase
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.factors import FactorKind
from zitui.errors import NotFound, PreconditionFailed
from zitui.records import IdentityProvider, IdpLink, IdpType, Session, User
from zitui.store import Repositories

LINK_WRITE = "user.write"


@dataclass(frozen=True)
class LinkedIdp:
    """One of the user's links: the provider (name and kind) and who the user is there."""

    id: str
    idp_id: str
    idp_name: str
    idp_type: IdpType
    external_id: str
    external_name: str
    created_at: datetime
    last_used_at: datetime | None


Pick = Callable[[Repositories], Awaitable[IdpLink | None]]


class AccountLinks(AccountBase):
    async def links(self, ctx: Context) -> list[LinkedIdp]:
        """The user's links, the oldest first."""
        user = await self._myself(ctx, "user.read")
        async with self._store.reader() as tx:
            links = await tx.idp_links.list_for_user(user.id)
            found = [(link, await tx.idps.find(link.idp_id)) for link in links]
        return [
            LinkedIdp(
                id=link.id,
                idp_id=link.idp_id,
                idp_name=stored.idp.name,
                idp_type=stored.idp.type,
                external_id=link.external_id,
                external_name=link.external_name,
                created_at=link.created_at,
                last_used_at=link.last_used_at,
            )
            for link, stored in found
            if stored is not None
        ]

    async def linkable_providers(self, ctx: Context) -> list[IdentityProvider]:
        """The providers the user may link next: those their organisation's login offers
        (the instance's and its own, when the policy allows external IdPs) that they have
        no link to yet."""
        user = await self._myself(ctx, "user.read")
        async with self._store.reader() as tx:
            return await self._linkable(tx, user)

    async def linking_session(self, ctx: Context, idp_id: str) -> Session:
        """The session to link `idp_id` from (the one the call comes from), once the provider
        is one the user may link and the sign-in is recent; NotFound("idp.not_available")
        for any other provider."""
        user = await self._myself(ctx, LINK_WRITE)
        self._require_recent(ctx)
        async with self._store.reader() as tx:
            linkable = await self._linkable(tx, user)
            session = await tx.sessions.find(ctx.session_id) if ctx.session_id else None
        if idp_id not in {idp.id for idp in linkable}:
            raise NotFound("idp.not_available", "this identity provider is not available here")
        if session is None or session.user_id != user.id:
            raise NotFound("session.not_found", "this sign-in has ended")
        return session

    async def remove_link(self, ctx: Context, link_id: str) -> None:
        """Remove one of the user's links (NotFound("idp.link_not_found") for any other);
        refused when it is the user's last way to sign in."""

        async def pick(tx: Repositories) -> IdpLink | None:
            return await tx.idp_links.find(link_id) if link_id else None

        await self._remove(ctx, pick)

    async def remove_link_of(self, ctx: Context, idp_id: str, external_id: str) -> None:
        """Remove the user's link to the identity `external_id` at `idp_id` (ZITADEL's
        RemoveMyLinkedIDP names a link so); otherwise as `remove_link`."""

        async def pick(tx: Repositories) -> IdpLink | None:
            if not (idp_id and external_id):
                return None
            return await tx.idp_links.find_external(idp_id, external_id)

        await self._remove(ctx, pick)

    async def _remove(self, ctx: Context, pick: Pick) -> None:
        user = await self._myself(ctx, LINK_WRITE)
        self._require_recent(ctx)
        async with self._store.transaction() as tx:
            link = await pick(tx)
            if link is None or link.user_id != user.id:
                raise NotFound("idp.link_not_found", "no such link to an identity provider")
            if not await self._other_way_in(tx, user, link):
                raise PreconditionFailed(
                    "idp.last_way_in",
                    "this link is your only way to sign in: set a password or link another "
                    "provider first",
                )
            stored = await tx.idps.find(link.idp_id)
            await tx.idp_links.remove(link.id)
            payload = {
                "link_id": link.id,
                "idp_id": link.idp_id,
                "idp_name": stored.idp.name if stored else "",
                "external_id": link.external_id,
                "external_name": link.external_name,
            }
            await record(
                tx,
                ctx,
                "user.human.externalidp.removed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload=payload,
            )

    async def _other_way_in(self, tx: Repositories, user: User, link: IdpLink) -> bool:
        """Whether the user can still sign in without `link`: a password, a passkey or
        another link."""
        credentials = await tx.users.find_credentials(user.id)
        if credentials is not None and credentials.password_hash:
            return True
        ready = await self._factors.ready_factors(tx, user.id)
        if any(f.kind is FactorKind.PASSKEY for f in ready):
            return True
        return any(other.id != link.id for other in await tx.idp_links.list_for_user(user.id))

    async def _linkable(self, tx: Repositories, user: User) -> list[IdentityProvider]:
        if self._idps is None:
            return []
        linked = {link.idp_id for link in await tx.idp_links.list_for_user(user.id)}
        offered = await self._idps.offered(tx, user.org_id)
        return [idp for idp in offered if idp.id not in linked]
