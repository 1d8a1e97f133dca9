"""The account API's request and response bodies, with ZITADEL's auth API JSON names.

grpc-gateway writes ZITADEL's proto fields in camelCase (`firstName`, `isEmailVerified`); these
models keep Python names and publish the camelCase aliases, which is what the OpenAPI document
and every response carry. Requests refuse unknown fields, so a misspelt field is a 400 that
names it instead of a change silently skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Text = Annotated[str, Field(max_length=200)]
Code = Annotated[str, Field(max_length=64)]
Password = Annotated[str, Field(max_length=1024)]
GENDER_NAMES = ("GENDER_UNSPECIFIED", "GENDER_FEMALE", "GENDER_MALE", "GENDER_DIVERSE")
Gender = Literal["GENDER_UNSPECIFIED", "GENDER_FEMALE", "GENDER_MALE", "GENDER_DIVERSE"]
UserStateName = Literal[
    "USER_STATE_INITIAL", "USER_STATE_ACTIVE", "USER_STATE_INACTIVE", "USER_STATE_LOCKED"
]
FactorKindName = Literal["totp", "otp_email", "otp_sms", "u2f", "passkey"]


class Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


# --- shared pieces ---------------------------------------------------------------------------


class ApiError(Body):
    """Every error: a stable code (also the message's translation key), the message in the
    caller's language, and the request field it concerns when there is one."""

    kind: str = Field(examples=["invalid_argument"])
    code: str = Field(examples=["user.email.invalid"])
    message: str = Field(examples=["the email address is not valid"])
    field: str | None = Field(default=None, examples=["email"])


class Details(Body):
    """ZITADEL's ObjectDetails: when the object last changed and its organisation."""

    change_date: datetime | None = None
    creation_date: datetime | None = None
    resource_owner: str = Field(examples=["312909075211944344"])


class Changed(Body):
    details: Details


class Empty(Body):
    """A request without fields; an empty body is taken as `{}`."""


# --- the user -------------------------------------------------------------------------------


class Profile(Body):
    first_name: str = Field(examples=["Alice"])
    last_name: str = Field(examples=["Liddell"])
    nick_name: str = ""
    display_name: str = Field(examples=["Alice Liddell"])
    preferred_language: str = Field(examples=["en"])
    gender: Gender = "GENDER_UNSPECIFIED"


class Email(Body):
    email: str = Field(examples=["alice@example.com"])
    is_email_verified: bool


class Phone(Body):
    phone: str = Field(examples=["+41791234567"])
    is_phone_verified: bool


class Human(Body):
    profile: Profile
    email: Email
    phone: Phone


class Machine(Body):
    name: str
    description: str = ""


class UserView(Body):
    id: str
    details: Details
    state: UserStateName
    user_name: str = Field(examples=["alice"])
    login_names: list[str]
    preferred_login_name: str = Field(examples=["alice@example.com"])
    human: Human | None = None
    machine: Machine | None = None


class GetMyUserResponse(Body):
    """ZITADEL's `user`, and what the account area shows beside it (zitui's own fields)."""

    user: UserView
    recovery_codes_left: int = Field(ge=0)
    may_delete: bool
    mfa_forced: bool
    addable_factor_kinds: list[FactorKindName]
    email_code_pending: bool
    phone_code_pending: bool


class RemoveMyUserRequest(Body):
    """zitui asks for the password before deleting an account (ZITADEL asks nothing)."""

    password: Password


class UpdateMyUserNameRequest(Body):
    user_name: Text = Field(examples=["alice.l"])


class GetMyProfileResponse(Body):
    details: Details
    profile: Profile


class UpdateMyProfileRequest(Body):
    """The fields to change; a field left out keeps its value."""

    first_name: Text | None = Field(default=None, examples=["Alice"])
    last_name: Text | None = Field(default=None, examples=["Liddell"])
    nick_name: Text | None = None
    display_name: Text | None = None
    preferred_language: Annotated[str, Field(max_length=35)] | None = Field(
        default=None, examples=["de"]
    )
    gender: Gender | None = None


class GetMyEmailResponse(Body):
    details: Details
    email: Email


class SetMyEmailRequest(Body):
    email: Text = Field(examples=["alice@example.org"])


class VerifyCodeRequest(Body):
    code: Code = Field(examples=["K7D2QX"])


class GetMyPhoneResponse(Body):
    details: Details
    phone: Phone


class SetMyPhoneRequest(Body):
    phone: Annotated[str, Field(max_length=40)] = Field(examples=["+41791234567"])


class UpdateMyPasswordRequest(Body):
    old_password: Password
    new_password: Password


class PasswordComplexityPolicy(Body):
    details: Details
    min_length: int = Field(examples=[8])
    has_uppercase: bool
    has_lowercase: bool
    has_number: bool
    has_symbol: bool


class GetMyPasswordComplexityPolicyResponse(Body):
    policy: PasswordComplexityPolicy


# --- factors --------------------------------------------------------------------------------


class FactorRef(Body):
    id: str
    name: str


class AuthFactor(Body):
    """ZITADEL's AuthFactor (one of `otp`, `otpSms`, `otpEmail`, `u2f` set), with zitui's
    `id`, `kind`, `name`, `createdAt` and `lastUsedAt`."""

    state: Literal["AUTH_FACTOR_STATE_READY"] = "AUTH_FACTOR_STATE_READY"
    id: str
    kind: FactorKindName
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    otp: dict[str, Any] | None = None
    otp_sms: dict[str, Any] | None = None
    otp_email: dict[str, Any] | None = None
    u2f: FactorRef | None = Field(default=None, alias="u2f")  # not to_camel's "u2F"


class ListMyAuthFactorsResponse(Body):
    result: list[AuthFactor]


class WebAuthNToken(Body):
    id: str
    state: Literal["AUTH_FACTOR_STATE_READY"] = "AUTH_FACTOR_STATE_READY"
    name: str
    created_at: datetime
    last_used_at: datetime | None = None


class ListMyPasswordlessResponse(Body):
    result: list[WebAuthNToken]


class AddMyAuthFactorOTPResponse(Body):
    """The `otpauth://` URI and secret to enter in an authenticator app; `factorId` names the
    set-up that `_verify` finishes (zitui's own field)."""

    url: str = Field(examples=["otpauth://totp/zitui:alice?secret=JBSWY3DPEHPK3PXP"])
    secret: str = Field(examples=["JBSWY3DPEHPK3PXP"])
    factor_id: str
    details: Details


class VerifyMyAuthFactorOTPRequest(Body):
    code: Code = Field(examples=["123456"])
    factor_id: Text = Field(
        default="", description="the set-up `POST …/otp` answered; empty: the pending one"
    )
    token_name: Text = ""


class RecoveryCodes(Body):
    """`recoveryCodes` is filled once, when the factor is the user's first (zitui's own)."""

    details: Details
    recovery_codes: list[str]


class WebAuthNKey(Body):
    """ZITADEL's WebAuthNKey: `publicKey` is the base64 of the
    PublicKeyCredentialCreationOptionsJSON to pass to `navigator.credentials.create`;
    `id` names the registration (zitui's own)."""

    id: str
    public_key: str


class AddMyWebAuthNResponse(Body):
    key: WebAuthNKey
    details: Details


class WebAuthNVerification(Body):
    public_key_credential: dict[str, Any] = Field(
        description="the RegistrationResponseJSON the browser answered"
    )
    token_name: Text = ""


class VerifyMyWebAuthNRequest(Body):
    verification: WebAuthNVerification
    registration_id: Text = Field(
        default="", description="`key.id` of the registration; empty: the pending one"
    )


class RenameMyAuthFactorRequest(Body):
    name: Text = Field(examples=["Work laptop"])


class RecoveryCodesLeft(Body):
    count: int = Field(ge=0)


# --- sessions and applications ----------------------------------------------------------------


class UserSession(Body):
    session_id: str
    user_agent: str
    client_ip: str
    creation_date: datetime
    last_used_date: datetime
    current: bool


class ListMyUserSessionsResponse(Body):
    result: list[UserSession]


class EndedSessions(Body):
    details: Details
    ended: int = Field(ge=0)


class RefreshToken(Body):
    id: str
    client_id: str
    app_name: str
    creation_date: datetime
    expiration: datetime | None = None


class ListMyRefreshTokensResponse(Body):
    result: list[RefreshToken]


# --- linked identity providers ----------------------------------------------------------------

IdpTypeName = Literal["IDP_TYPE_UNSPECIFIED", "IDP_TYPE_OIDC", "IDP_TYPE_JWT"]


class ListQuery(Body):
    """ZITADEL's ListQuery: skip `offset` entries, answer at most `limit` (0: all), oldest
    first unless `asc` is false."""

    offset: int = Field(default=0, ge=0, le=2**31 - 1)
    limit: int = Field(default=0, ge=0, le=1000)
    asc: bool = True


class ListDetails(Body):
    """ZITADEL's ListDetails: how many entries there are in all (a uint64, so a string, as
    grpc-gateway writes it) and when the list was read."""

    total_result: str = Field(examples=["2"])
    view_timestamp: datetime


class ListMyLinkedIDPsRequest(Body):
    query: ListQuery | None = None


class IDPUserLink(Body):
    """A link to an identity provider: `providedUserId` is the user's id there (the path of
    the removal names it), `providedUserName` what the provider calls the user. `idpType` is
    ZITADEL's: IDP_TYPE_OIDC for the OpenID Connect kinds, IDP_TYPE_UNSPECIFIED for the others
    (plain OAuth 2.0, GitHub)."""

    user_id: str
    idp_id: str
    idp_name: str = Field(examples=["GitHub"])
    provided_user_id: str = Field(examples=["583231"])
    provided_user_name: str = Field(examples=["alice@example.com"])
    idp_type: IdpTypeName


class ListMyLinkedIDPsResponse(Body):
    details: ListDetails
    result: list[IDPUserLink]
