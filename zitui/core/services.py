"""Opening the store and building the services both faces use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from zitui.config import Settings
from zitui.core.account import AccountParts, AccountService
from zitui.core.activity import ActivityService
from zitui.core.apps import AppService
from zitui.core.auth import AuthService
from zitui.core.authz import Authorizer
from zitui.core.backups import backup_before_migration
from zitui.core.branding import BrandingService
from zitui.core.clock import Clock, SystemClock
from zitui.core.console_access import ConsoleAccess
from zitui.core.context import Context
from zitui.core.credentials import PasswordChecker
from zitui.core.crypto.masterkey import MasterKey, load_master_key, refuse_exposed_key_file
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher
from zitui.core.custom_texts import TextService
from zitui.core.events import EventService
from zitui.core.factors import FactorService
from zitui.core.grants import GrantService
from zitui.core.housekeeping import Housekeeper, Retention
from zitui.core.idp_client import IdpClient
from zitui.core.idps import IdpService, callback_urls
from zitui.core.instance import InstanceService
from zitui.core.login.flows import LoginFlowService
from zitui.core.login.labeling import LoginLabeling
from zitui.core.machines import MachineService
from zitui.core.memberships import MembershipService
from zitui.core.notifications.delivery import Delivery, Sender
from zitui.core.notifications.outbox import NotificationService
from zitui.core.oidc.auth_requests import AuthRequestService
from zitui.core.oidc.issuance import Lifetimes
from zitui.core.oidc.keys import KeyService
from zitui.core.oidc.tokens import TokenService
from zitui.core.orgs import OrgService
from zitui.core.otp_factors import OtpFactors
from zitui.core.password_notice import PasswordNotice
from zitui.core.policy_service import PolicyService
from zitui.core.projects import ProjectService
from zitui.core.sessions import SessionService
from zitui.core.setup import SetupResult, ensure_instance
from zitui.core.sms import SmsService
from zitui.core.smtp import SmtpService
from zitui.core.ssh_keys import SshKeyService
from zitui.core.throttle import ThrottleLimits
from zitui.core.user_codes import CodeMailer
from zitui.core.users import UserService
from zitui.core.webauthn import WebAuthnService
from zitui.errors import StoreUnavailable
from zitui.store import Store, migrate, open_store
from zitui.store.files import prepare_data_dir


@dataclass
class Services:
    settings: Settings
    store: Store
    clock: Clock
    master_key: MasterKey
    hasher: PasswordHasher
    instance: InstanceService
    orgs: OrgService
    users: UserService
    memberships: MembershipService
    projects: ProjectService
    apps: AppService
    grants: GrantService
    machines: MachineService
    smtp: SmtpService
    sms: SmsService
    idps: IdpService
    auth: AuthService
    events: EventService
    sessions: SessionService
    keys: KeyService
    tokens: TokenService
    auth_requests: AuthRequestService
    housekeeping: Housekeeper
    login: LoginFlowService
    notifications: NotificationService
    sender: Sender
    policies: PolicyService
    branding: BrandingService
    texts: TextService
    labeling: LoginLabeling
    factors: FactorService
    webauthn: WebAuthnService
    otp_factors: OtpFactors
    account: AccountService
    ssh_keys: SshKeyService
    activity: ActivityService
    console: ConsoleAccess

    def system_context(self, origin: str = "system") -> Context:
        return Context.system(self.clock, origin=origin)

    async def close(self) -> None:
        await self.store.close()


def build_services(
    settings: Settings, store: Store, master_key: MasterKey, clock: Clock
) -> Services:
    profile = Argon2Profile(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )
    hasher = PasswordHasher(
        profile, max_concurrency=settings.hash_slots, max_waiting=settings.hash_waiters
    )
    authz = Authorizer(store)
    # One password step for the hosted login, the console and the session API: one throttle.
    checker = PasswordChecker(store, hasher, clock, limits=ThrottleLimits.from_settings(settings))
    notice = PasswordNotice(master_key)
    sessions = SessionService(
        store,
        hasher,
        clock,
        idle_timeout=timedelta(seconds=settings.session_idle_timeout_s),
        checker=checker,
        notice=notice,
    )
    lifetimes = Lifetimes.from_settings(settings)
    keys = KeyService(store, authz, master_key, clock, settings)
    auth_requests = AuthRequestService(
        store,
        keys,
        sessions,
        clock,
        issuer=settings.issuer,
        lifetimes=lifetimes,
        pending_per_address=settings.pending_auth_requests_per_address,
    )
    codes = CodeMailer(master_key, base_url=settings.issuer)
    factors = FactorService(store, authz, master_key, clock)
    webauthn = WebAuthnService(clock, origin=settings.issuer, rp_name=settings.instance_name)
    otp_factors = OtpFactors(master_key, codes)
    idps = IdpService(store, authz, master_key)
    login = LoginFlowService(
        store,
        hasher,
        clock,
        sessions,
        auth_requests,
        checker=checker,
        max_open_flows_per_address=settings.max_open_flows_per_address,
        codes=codes,
        limits=ThrottleLimits.from_settings(settings),
        notice=notice,
        factors=factors,
        otp=otp_factors,
        webauthn=webauthn,
        challenge_key=master_key.derive("webauthn-challenges"),
        idps=idps,
        idp_client=IdpClient(clock),
        callbacks=callback_urls(settings.issuer),
    )
    smtp = SmtpService(store, authz, master_key, mail_dir=settings.data_dir / "mail")
    sms = SmsService(store, authz, master_key)
    users = UserService(store, hasher, authz, codes, notice=notice)
    account = AccountService(
        store,
        hasher,
        authz,
        clock,
        AccountParts(
            users=users,
            factors=factors,
            otp=otp_factors,
            webauthn=webauthn,
            codes=codes,
            idps=idps,
        ),
        issuer=urlsplit(settings.issuer).netloc or settings.issuer,
        challenge_key=master_key.derive("account-webauthn-challenges"),
        reauth_window=timedelta(seconds=settings.reauth_window_s),
        idle_timeout=timedelta(seconds=settings.session_idle_timeout_s),
        limits=ThrottleLimits.from_settings(settings),
    )
    auth = AuthService(store, login, clock)
    sender = Sender(
        store,
        master_key,
        clock,
        credentials=smtp.smtp_credentials,
        sms_provider=sms.sms_credentials,
        mail_dir=smtp.mail_dir,
        delivery=Delivery.from_settings(settings),
    )
    return Services(
        settings=settings,
        store=store,
        clock=clock,
        master_key=master_key,
        hasher=hasher,
        instance=InstanceService(store),
        orgs=OrgService(store, authz),
        users=users,
        memberships=MembershipService(store, authz),
        projects=ProjectService(store, authz),
        apps=AppService(store, authz),
        grants=GrantService(store, authz),
        machines=MachineService(store, authz),
        smtp=smtp,
        sms=sms,
        idps=idps,
        auth=auth,
        events=EventService(store),
        sessions=sessions,
        keys=keys,
        tokens=TokenService(store, keys, clock, issuer=settings.issuer, lifetimes=lifetimes),
        auth_requests=auth_requests,
        housekeeping=Housekeeper(
            store,
            clock,
            interval_s=settings.purge_interval_s,
            batch_size=settings.purge_batch_size,
            retention=Retention.from_settings(settings),
        ),
        login=login,
        notifications=NotificationService(store, authz, master_key),
        sender=sender,
        policies=PolicyService(store, authz),
        branding=BrandingService(store, authz),
        texts=TextService(store, authz),
        labeling=LoginLabeling(store),
        factors=factors,
        webauthn=webauthn,
        otp_factors=otp_factors,
        account=account,
        ssh_keys=SshKeyService(store, authz),
        activity=ActivityService(store, authz, clock),
        console=ConsoleAccess(store, auth, clock),
    )


async def open_services(
    settings: Settings, *, clock: Clock | None = None, first_run: bool = True
) -> tuple[Services, SetupResult]:
    """Open and migrate the store, check the master key, and run the first-run set-up.

    The master key is checked before any migration, so a wrong key changes nothing, and a
    key file other users could read stops everything before a file is created or opened.
    With `first_run=False` (`zitui recover`) a data directory without an instance is refused
    and nothing is set up in it.
    """
    clock = clock or SystemClock()
    key_file = settings.data_dir / "masterkey"
    if not settings.masterkey:
        refuse_exposed_key_file(key_file)
    if not settings.database_url:
        if not first_run and not (settings.data_dir / "zitui.db").is_file():
            raise _no_instance(settings)
        prepare_data_dir(settings.data_dir)
    store = await open_store(settings.db_url, busy_timeout_ms=settings.busy_timeout_ms)
    try:
        state = await store.read_instance_state()
        if state is None and not first_run:
            raise _no_instance(settings)
        master_key = load_master_key(settings.masterkey, key_file, may_create=state is None)
        if state is not None:
            master_key.verify_key_check(state)
        await backup_before_migration(settings, store, now=clock.now())
        await migrate(store)
        services = build_services(settings, store, master_key, clock)
        result = SetupResult(created=False)
        if first_run:
            result = await ensure_instance(
                store,
                settings,
                master_key=master_key,
                hasher=services.hasher,
                ctx=Context.system(clock, origin="setup"),
            )
    except BaseException:
        await store.close()
        raise
    return services, result


def _no_instance(settings: Settings) -> StoreUnavailable:
    return StoreUnavailable(
        "store.no_instance", f"{settings.data_dir} holds no zitui instance; start zitui there first"
    )
