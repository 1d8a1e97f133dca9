"""Whose branding, custom texts and legal links a login page shows: ZITADEL's private labeling.

The organisation in the request's scope (`urn:zitadel:iam:org:id:…`, `…:domain:primary:…`)
always wins. Without one, the project of the request's application decides by its
`private_labeling_setting`:

| setting | before the user is known | once the flow knows the user |
| --- | --- | --- |
| `unspecified` | the instance | the user's organisation |
| `enforce_project_resource_owner_policy` | the project's owner | the project's owner |
| `allow_login_user_resource_owner_policy` | the project's owner | the user's organisation |

A flow knows its user after the password (or an account this browser chose), never after a
typed login name: the page must not tell whether, or where, a name exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core.branding import Branding, effective
from zitui.core.login.steps import FlowView
from zitui.core.policies import PrivacyPolicy, from_settings
from zitui.records import PrivateLabeling
from zitui.store import Repositories, Store


@dataclass(frozen=True)
class LoginLabel:
    """What a login page shows of the organisation that labels it (`org_id`, "" for the
    instance): its branding and its legal and support links (the legal policy in force)."""

    org_id: str
    branding: Branding
    legal: PrivacyPolicy


async def labeling_org(
    tx: Repositories, *, scope_org_id: str, auth_request_id: str = "", user_id: str = ""
) -> str:
    """The organisation whose settings a login page shows ("" for the instance default)."""
    if scope_org_id:
        return scope_org_id
    project = await tx.projects.find_for_auth_request(auth_request_id) if auth_request_id else None
    setting = project.private_labeling_setting if project else PrivateLabeling.UNSPECIFIED
    if project is not None and setting is PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY:
        return project.org_id
    user = await tx.users.find(user_id) if user_id else None
    if user is not None:
        return user.org_id
    if project is not None and setting is PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY:
        return project.org_id
    return ""


class LoginLabeling:
    """The label of a login page, read for each page, so a change shows on the next one.
    Public: the pages are shown before sign-in."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def for_flow(self, flow: FlowView | None) -> LoginLabel:
        """The label of a flow's page (None: a page outside a flow, the instance's)."""
        if flow is None:
            return await self.for_org("")
        async with self._store.reader() as tx:
            org_id = await labeling_org(
                tx,
                scope_org_id=flow.org_id,
                auth_request_id=flow.auth_request_id,
                user_id=flow.user_id,
            )
            return await _label(tx, org_id)

    async def for_org(self, org_id: str) -> LoginLabel:
        """The label of an organisation's pages ("" for the instance's), as the branding
        preview shows them."""
        async with self._store.reader() as tx:
            return await _label(tx, org_id)


async def _label(tx: Repositories, org_id: str) -> LoginLabel:
    branding = await effective(tx, org_id or None)
    legal = from_settings(PrivacyPolicy, await tx.policies.find_effective("privacy", org_id))
    return LoginLabel(org_id, branding, legal)
