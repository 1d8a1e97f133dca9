"""Where text messages go: a generic HTTP endpoint or a Twilio-compatible API (httpx2).

A failed attempt raises `DeliveryFailed` with the status code and its standard phrase only:
a provider's answer may echo the message, so neither its body nor its own reason phrase is
kept.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Protocol

import httpx2

from zitui.core.notifications.transports import DeliveryFailed
from zitui.core.sms import HTTP, SmsCredentials

SMS_TIMEOUT_S = 15.0
TWILIO_API = "2010-04-01"


class SmsTransport(Protocol):
    async def send(self, *, recipient: str, text: str) -> None: ...


def sms_transport(credentials: SmsCredentials, *, timeout_s: float = SMS_TIMEOUT_S) -> SmsTransport:
    """The transport of the stored provider's kind."""
    if credentials.config.kind == HTTP:
        return HttpSmsTransport(credentials, timeout_s=timeout_s)
    return TwilioSmsTransport(credentials, timeout_s=timeout_s)


class HttpSmsTransport:
    """POST `{"to": ..., "text": ...}` as JSON to the configured URL, with
    `Authorization: Bearer <token>` when a token is set; any 2xx answer means sent."""

    def __init__(self, credentials: SmsCredentials, *, timeout_s: float = SMS_TIMEOUT_S) -> None:
        self._url = credentials.config.url
        self._token = credentials.token
        self._timeout_s = timeout_s

    async def send(self, *, recipient: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        await _post(
            self._url,
            timeout_s=self._timeout_s,
            json={"to": recipient, "text": text},
            headers=headers,
        )


class TwilioSmsTransport:
    """POST the form `To`, `From` (or `MessagingServiceSid`) and `Body` to
    `{base}/2010-04-01/Accounts/{sid}/Messages.json`, authenticated by HTTP basic with the
    account sid and the auth token; any 2xx answer means sent."""

    def __init__(self, credentials: SmsCredentials, *, timeout_s: float = SMS_TIMEOUT_S) -> None:
        config = credentials.config
        self._url = f"{config.base_url}/{TWILIO_API}/Accounts/{config.account_sid}/Messages.json"
        self._auth = httpx2.BasicAuth(config.account_sid, credentials.token)
        self._origin = (
            {"MessagingServiceSid": config.messaging_service_sid}
            if config.messaging_service_sid
            else {"From": config.sender}
        )
        self._timeout_s = timeout_s

    async def send(self, *, recipient: str, text: str) -> None:
        form = {"To": recipient, **self._origin, "Body": text}
        await _post(self._url, timeout_s=self._timeout_s, data=form, auth=self._auth)


async def _post(url: str, *, timeout_s: float, **request: Any) -> None:
    # The environment's proxy settings are not read: only config.py reads the environment.
    try:
        async with httpx2.AsyncClient(timeout=timeout_s, trust_env=False) as client:
            response = await client.post(url, **request)
    except httpx2.TimeoutException as exc:
        raise DeliveryFailed("the SMS provider did not answer in time") from exc
    except httpx2.HTTPError as exc:
        raise DeliveryFailed(f"cannot reach the SMS provider ({type(exc).__name__})") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(_refusal(response.status_code))


def _refusal(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "unknown status"
    if status == 429:
        return f"the SMS provider asks to slow down ({status} {phrase})"
    if 400 <= status < 500:
        return f"the SMS provider refused the message ({status} {phrase})"
    return f"the SMS provider answered {status} {phrase}"
