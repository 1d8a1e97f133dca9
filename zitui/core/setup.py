"""First run: the instance, its default organisation, the first IAM_OWNER, policies and a key.

Everything is created in one transaction, so a first run that is interrupted leaves nothing
behind and the next start does it all again. A set-up instance is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from zitui.config import Settings
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.crypto.signing import new_signing_key
from zitui.core.ids import new_id
from zitui.core.memberships import grant
from zitui.core.orgs import add_org
from zitui.core.policies import POLICY_KINDS, PasswordComplexityPolicy, to_settings
from zitui.core.users import NewHumanUser, add_human_user
from zitui.records import Instance, Scope
from zitui.store import Repositories, Store

SIGNING_KEY_LIFETIME = timedelta(days=90)


@dataclass(frozen=True)
class SetupResult:
    created: bool
    admin_login_name: str = ""
    generated_password: str = ""


def instance_domain(settings: Settings) -> str:
    return urlsplit(settings.issuer).hostname or "localhost"


async def ensure_instance(
    store: Store,
    settings: Settings,
    *,
    master_key: MasterKey,
    hasher: PasswordHasher,
    ctx: Context,
) -> SetupResult:
    """Set the instance up unless it is; returns what was created."""
    async with store.reader() as tx:
        if await tx.instances.find() is not None:
            return SetupResult(created=False)
    if settings.admin_password:
        PasswordComplexityPolicy().check(settings.admin_password, field="admin_password")
    password = settings.admin_password or tokens.generated_password()
    password_hash = await hasher.hash(password)
    async with store.transaction() as tx:
        if await tx.instances.find() is not None:  # another process set it up meanwhile
            return SetupResult(created=False)
        admin_login = await _set_up(tx, ctx, settings, master_key, password_hash)
    return SetupResult(
        created=True,
        admin_login_name=admin_login,
        generated_password="" if settings.admin_password else password,
    )


async def _set_up(
    tx: Repositories, ctx: Context, settings: Settings, master_key: MasterKey, password_hash: str
) -> str:
    now = ctx.now()
    instance = Instance(
        id=new_id(),
        name=settings.instance_name,
        domain=instance_domain(settings),
        default_org_id=new_id(),
        created_at=now,
    )
    await tx.instances.insert(instance, key_check=master_key.key_check())
    for kind, policy_type in POLICY_KINDS.items():
        await tx.policies.insert(new_id(), kind, to_settings(policy_type()), org_id="", at=now)
    org = await add_org(tx, ctx, settings.org_name, org_id=instance.default_org_id)
    admin = await add_human_user(
        tx,
        ctx,
        org.id,
        NewHumanUser(
            username=settings.admin_username,
            first_name="ZITUI",
            last_name="Administrator",
            password_change_required=not settings.admin_password,
        ),
        password_hash=password_hash,
    )
    await grant(tx, ctx, admin.id, Scope.INSTANCE, instance.id, ("IAM_OWNER",))
    signing_key = new_signing_key(master_key, now=now, lifetime=SIGNING_KEY_LIFETIME)
    await tx.signing_keys.insert(signing_key)
    await tx.instances.mark_setup_completed(instance.id, now)
    await record(
        tx,
        ctx,
        "instance.set_up",
        aggregate=("instance", instance.id),
        org_id=org.id,
        payload={"default_org_id": org.id, "admin_user_id": admin.id, "domain": instance.domain},
    )
    return admin.login_name
