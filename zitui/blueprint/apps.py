"""Applying OIDC applications: create what is missing, bring the rest to the file's settings.

Settings the file leaves out keep their stored values on an existing app.
"""

from __future__ import annotations

from typing import Any

from zitui.blueprint.specs import APP_KEYS, AppSpec
from zitui.blueprint.state import ApplyState, at
from zitui.core.apps import NewOidcApp, OidcConfigChange
from zitui.records import App, Project

# The settings a blueprint declares, by the file's key and the app's attribute.
_SETTINGS = {
    "type": "app_type",
    "auth_method": "auth_method",
    "redirect_uris": "redirect_uris",
    "post_logout_redirect_uris": "post_logout_redirect_uris",
    "response_types": "response_types",
    "grant_types": "grant_types",
    "access_token_type": "access_token_type",
    "id_token_role_assertion": "id_token_role_assertion",
    "id_token_userinfo_assertion": "id_token_userinfo_assertion",
    "dev_mode": "dev_mode",
}


async def ensure_app(state: ApplyState, project: Project, spec: AppSpec, prefix: str) -> App:
    """`prefix` is "Org/Project" as the file spells it; credentials are keyed by it."""
    apps, ctx = state.services.apps, state.ctx
    name = f"{prefix}/{spec.name}"
    with at(spec.path, APP_KEYS, aliases={"app_type": "type"}):
        found = await apps.find_app_by_name(ctx, project.id, spec.name)
        if found is None:
            app, secret = await apps.create_oidc_app(ctx, project.id, _new_app(spec))
            state.created(f"app {name}")
            _report(state, name, app, secret)
            return app
        changes = _changes(spec, found)
        if not changes:
            return found
        app, secret = await apps.update_oidc_config(ctx, found.id, OidcConfigChange(**changes))
    state.changed(f"app {name}: {', '.join(_file_keys(changes))}")
    if secret is not None:  # the app moved to basic or post: its first secret, not a rotation
        _report(state, name, app, secret)
    return app


def _new_app(spec: AppSpec) -> NewOidcApp:
    return NewOidcApp(
        name=spec.name,
        app_type=spec.type,
        auth_method=spec.auth_method,
        redirect_uris=spec.redirect_uris,
        post_logout_redirect_uris=spec.post_logout_redirect_uris,
        response_types=spec.response_types,
        grant_types=spec.grant_types,
        access_token_type=spec.access_token_type,
        id_token_role_assertion=spec.id_token_role_assertion,
        id_token_userinfo_assertion=spec.id_token_userinfo_assertion,
        dev_mode=spec.dev_mode,
    )


def _changes(spec: AppSpec, app: App) -> dict[str, Any]:
    """The settings the file sets whose stored value differs, by the app's attribute name."""
    wanted = {
        attribute: getattr(spec, key) for key, attribute in _SETTINGS.items() if key in spec.given
    }
    changes: dict[str, Any] = {}
    for attribute, value in wanted.items():
        current = getattr(app, attribute)
        if isinstance(value, tuple):
            current = tuple(current)
        if value != current:
            changes[attribute] = value
    return changes


def _file_keys(changes: dict[str, Any]) -> list[str]:
    return [key for key, attribute in _SETTINGS.items() if attribute in changes]


def _report(state: ApplyState, name: str, app: App, secret: str | None) -> None:
    values: dict[str, Any] = {"client_id": app.client_id}
    if secret is not None:
        values["client_secret"] = secret
    state.outcome.add_credentials(name, **values)
