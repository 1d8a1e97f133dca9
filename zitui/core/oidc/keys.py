"""Signing keys on a schedule, and the JSON Web Key Set (RFC 7517 §5, OIDC Core §10.1.1).

A key signs from its `activates_at` until its successor's; the successor is generated and
published one rotation period ahead, so relying parties have it in their cached JWKS before
the first token it signs. A superseded key stays published until every token it signed has
expired (its successor's start plus the longest token lifetime plus a grace), then goes.
`rotate` promotes the published next key at once (for the TUI or an incident) and publishes
a new next one.

The schedule is cached with the decrypted private keys; each use compares a cheap version
(`count(*), max(kid)`) with the store, at most once per `check_interval_s`, because another
process (the TUI, a second server) may rotate. Scheduled hand-overs need no check at all:
the cached activation times say when. The first use that finds no next key does the upkeep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import KeySet, RSAKey

from zitui.config import Settings
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.clock import Clock
from zitui.core.context import Context
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.crypto.signing import PrivateSigningKey, new_signing_key, open_signing_key
from zitui.core.oidc.app_keys import AppKeyCommands
from zitui.core.permissions import Resource
from zitui.records import SigningKey
from zitui.store import Repositories, Store

GRACE = timedelta(minutes=5)  # clock skew and JWKS caches (ZITADEL's JWKS max-age is 5 min)


def starts(key: SigningKey) -> datetime:
    return key.activates_at or key.created_at


def _order(key: SigningKey) -> tuple[datetime, str]:
    return starts(key), key.kid


@dataclass(frozen=True)
class KeyRing:
    """The published keys at one moment: the current one, those to come, those retired."""

    current: SigningKey | None
    upcoming: tuple[SigningKey, ...]
    previous: tuple[SigningKey, ...]

    @classmethod
    def at(cls, keys: Sequence[SigningKey], now: datetime) -> KeyRing:
        live = sorted((k for k in keys if k.expires_at > now), key=_order)
        active = [k for k in live if starts(k) <= now]
        return cls(
            current=active[-1] if active else None,
            upcoming=tuple(k for k in live if starts(k) > now),
            previous=tuple(reversed(active[:-1])),
        )

    @property
    def published(self) -> tuple[SigningKey, ...]:
        head = (self.current,) if self.current else ()
        return head + self.upcoming + self.previous


def _next_change(keys: Sequence[SigningKey], now: datetime) -> datetime:
    """The first moment after `now` at which a key starts or expires."""
    moments = [t for k in keys for t in (starts(k), k.expires_at) if t > now]
    return min(moments, default=datetime.max.replace(tzinfo=UTC))


class KeyService(AppKeyCommands):
    """Signing keys for tokens (`signing_key`, `jwks`, `rotate`) and applications' keys."""

    def __init__(
        self,
        store: Store,
        authz: Authorizer,
        master_key: MasterKey,
        clock: Clock,
        settings: Settings,
        *,
        check_interval_s: float = 1.0,
    ) -> None:
        self._store = store
        self._authz = authz
        self._master_key = master_key
        self._clock = clock
        self._rotation = timedelta(seconds=settings.signing_key_rotation_s)
        longest = max(settings.id_token_lifetime_s, settings.access_token_lifetime_s)
        self._token_lifetime = timedelta(seconds=longest)
        self._check_interval = check_interval_s
        self._keys: tuple[SigningKey, ...] | None = None
        self._version: tuple[int, str] | None = None
        self._checked_at = 0.0
        self._private: dict[str, PrivateSigningKey] = {}
        self._keyset: tuple[tuple[str, ...], KeySet] | None = None
        # (keys it was made from, made at, valid until, ring)
        self._ring: tuple[tuple[SigningKey, ...], datetime, datetime, KeyRing] | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> PrivateSigningKey:
        """The key to sign with now, decrypted once per process."""
        key = (await self.ring()).current
        assert key is not None  # `ring` keeps a current key
        private = self._private.get(key.kid)
        if private is None:
            private = open_signing_key(self._master_key, key)
            self._private[key.kid] = private
        return private

    async def jwks(self) -> dict[str, Any]:
        """The public keys to verify with: current first, then the next, then retired ones."""
        ring = await self.ring()
        return {"keys": [dict(key.public_jwk) for key in ring.published]}

    async def public_keys(self) -> KeySet:
        """The published keys as a joserfc key set, to verify tokens this provider issued."""
        published = (await self.ring()).published
        kids = tuple(key.kid for key in published)
        if self._keyset is None or self._keyset[0] != kids:
            keyset = KeySet([RSAKey.import_key(dict(key.public_jwk)) for key in published])
            self._keyset = (kids, keyset)
        return self._keyset[1]

    async def ring(self) -> KeyRing:
        keys = await self._cached()
        now = self._clock.now()
        cached = self._ring
        if cached is not None and cached[0] is keys and cached[1] <= now < cached[2]:
            return cached[3]  # every token request asks; the ring only changes at key times
        ring = KeyRing.at(keys, now)
        if ring.current is None or not ring.upcoming:
            await self.maintain()
            keys, now = await self._cached(), self._clock.now()
            ring = KeyRing.at(keys, now)
        self._ring = (keys, now, _next_change(keys, now), ring)
        return ring

    async def rotate(self, ctx: Context) -> SigningKey:
        """Sign with the published next key from now on, and publish a new next key.

        Tokens signed by the old key stay verifiable: it is kept until they have expired.
        Needs `iam.web_key.write`; one `instance.web_key.rotated` event.
        """
        await self._authz.require(ctx, "iam.web_key.write", Resource.instance())
        spare = await self._generate(ctx.now())
        async with self._lock:
            async with self._store.transaction() as tx:
                now = ctx.now()
                ring = KeyRing.at(await tx.signing_keys.list_unexpired(now), now)
                promoted = ring.upcoming[0] if ring.upcoming else None
                if promoted is None:
                    promoted = await self._insert(tx, await self._generate(now), now)
                else:
                    await tx.signing_keys.set_activates_at(promoted.kid, now)
                for old in filter(None, (ring.current, *ring.previous)):
                    await self._retire(tx, old, successor_starts=now)
                upcoming = await self._insert(tx, spare, now + self._rotation)
                await self._keep_until_successor(tx, promoted, upcoming)
                payload = {
                    "kid": promoted.kid,
                    "previous_kid": ring.current.kid if ring.current else None,
                    "next_kid": upcoming.kid,
                }
                await _record(tx, ctx, "instance.web_key.rotated", payload)
            self._invalidate()
        return promoted

    async def maintain(self) -> None:
        """Keep the schedule whole: a current key, a published next key, nothing stale.

        Runs when a use finds the next key missing, i.e. once per rotation period; a new
        key is generated inside the transaction, so concurrent callers make only one.
        """
        ctx = Context.system(self._clock, origin="keys")
        async with self._lock:
            now = self._clock.now()
            async with self._store.transaction() as tx:
                ring = KeyRing.at(await tx.signing_keys.list_unexpired(now), now)
                current = ring.current
                if current is None:
                    current = await self._insert(tx, await self._generate(now), now)
                    await _record(tx, ctx, "instance.web_key.added", {"kid": current.kid})
                upcoming = ring.upcoming[0] if ring.upcoming else None
                if upcoming is None:
                    at = max(starts(current) + self._rotation, now + GRACE)
                    upcoming = await self._insert(tx, await self._generate(now), at)
                    await _record(tx, ctx, "instance.web_key.added", {"kid": upcoming.kid})
                await self._keep_until_successor(tx, current, upcoming)
                newer = current
                for old in ring.previous:
                    await self._retire(tx, old, successor_starts=starts(newer))
                    newer = old
                await tx.signing_keys.delete_expired(now)
            self._invalidate()

    async def _cached(self) -> tuple[SigningKey, ...]:
        if self._keys is not None and time.monotonic() - self._checked_at < self._check_interval:
            return self._keys
        async with self._store.reader() as tx:
            version = await tx.signing_keys.version()
            if self._keys is None or version != self._version:
                self._keys = tuple(await tx.signing_keys.list_unexpired(self._clock.now()))
                self._version = version
                self._private = {k: v for k, v in self._private.items() if self._has(k)}
        self._checked_at = time.monotonic()
        return self._keys

    def _has(self, kid: str) -> bool:
        return any(key.kid == kid for key in self._keys or ())

    def _invalidate(self) -> None:
        self._keys = None
        self._version = None

    async def _generate(self, now: datetime) -> SigningKey:
        """A fresh key (RSA generation takes tens of milliseconds: off the event loop)."""
        return await asyncio.to_thread(
            new_signing_key, self._master_key, now=now, lifetime=self._rotation
        )

    async def _insert(
        self, tx: Repositories, key: SigningKey, activates_at: datetime
    ) -> SigningKey:
        scheduled = SigningKey(
            kid=key.kid,
            alg=key.alg,
            public_jwk=key.public_jwk,
            private_key_enc=key.private_key_enc,
            created_at=key.created_at,
            activates_at=activates_at,
            expires_at=activates_at + self._rotation + self._token_lifetime + GRACE,
        )
        await tx.signing_keys.insert(scheduled)
        return scheduled

    async def _keep_until_successor(
        self, tx: Repositories, key: SigningKey, successor: SigningKey
    ) -> None:
        """A key signs until its successor starts; keep it published until those tokens end."""
        until = starts(successor) + self._token_lifetime + GRACE
        if key.expires_at != until:
            await tx.signing_keys.set_expires_at(key.kid, until)

    async def _retire(
        self, tx: Repositories, key: SigningKey, *, successor_starts: datetime
    ) -> None:
        until = successor_starts + self._token_lifetime + GRACE
        if key.expires_at > until:
            await tx.signing_keys.set_expires_at(key.kid, until)


async def _record(tx: Repositories, ctx: Context, event_type: str, payload: dict[str, Any]) -> None:
    instance = await tx.instances.find()
    aggregate = ("instance", instance.id if instance else "")
    await record(tx, ctx, event_type, aggregate=aggregate, org_id=None, payload=payload)
