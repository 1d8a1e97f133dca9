"""Handlers of the account API for the user's links to external identity providers
(ZITADEL's ListMyLinkedIDPs and RemoveMyLinkedIDP)."""

from __future__ import annotations

from zitui.core.account import LinkedIdp
from zitui.core.idp_templates import template_of
from zitui.server.api import models as m
from zitui.server.api.account import details
from zitui.server.api.operations import Call


def link_view(user_id: str, link: LinkedIdp) -> m.IDPUserLink:
    kind = "IDP_TYPE_OIDC" if template_of(link.idp_type).oidc else "IDP_TYPE_UNSPECIFIED"
    return m.IDPUserLink(
        user_id=user_id,
        idp_id=link.idp_id,
        idp_name=link.idp_name,
        provided_user_id=link.external_id,
        provided_user_name=link.external_name,
        idp_type=kind,  # type: ignore[arg-type]
    )


async def list_my_linked_idps(call: Call) -> m.ListMyLinkedIDPsResponse:
    body: m.ListMyLinkedIDPsRequest = call.body
    query = body.query or m.ListQuery()
    links = await call.services.account.links(call.ctx)
    ordered = links if query.asc else links[::-1]
    page = ordered[query.offset :]
    if query.limit:
        page = page[: query.limit]
    user_id = call.ctx.actor.user_id if call.ctx.actor else ""
    return m.ListMyLinkedIDPsResponse(
        details=m.ListDetails(total_result=str(len(links)), view_timestamp=call.ctx.now()),
        result=[link_view(user_id, link) for link in page],
    )


async def remove_my_linked_idp(call: Call) -> m.Changed:
    params = call.params
    await call.services.account.remove_link_of(call.ctx, params["idp_id"], params["linked_user_id"])
    return m.Changed(details=details(call.ctx))
