"""A cap on the unfinished authorization requests one client address may hold.

Every `/oauth/v2/authorize` stores a row before anyone has signed in, so anyone can write.
An address may hold at most `limit` requests that are pending (nobody signed in yet) and
unexpired; one more is refused with RateLimited (429, `Retry-After` until the first of them
expires) and nothing is stored. The count runs in the transaction that stores the request, so
on SQLite, where writers take turns, the cap is exact across processes.

An IPv6 host usually holds a whole /64, so IPv6 addresses count by their /64 network; an
IPv4-mapped IPv6 address counts as its IPv4 address. Behind a reverse proxy every request
comes from the proxy's address: raise the limit, or set 0 to turn the cap off.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime

from zitui.errors import RateLimited
from zitui.store import Repositories


def address_key(ip: str) -> str:
    """What requests are counted by: the IPv4 address, or the /64 of an IPv6 address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


async def admit(tx: Repositories, ip: str, *, now: datetime, limit: int) -> str:
    """The address to store with a new request; RateLimited when `ip` holds `limit` pending
    requests already. No cap when `limit` is 0 or the address is unknown."""
    key = address_key(ip) if ip else ""
    if not key or limit <= 0:
        return key
    count, first_expiry = await tx.auth_requests.pending_from(key, now=now)
    if count < limit:
        return key
    wait = (first_expiry - now).total_seconds() if first_expiry else 60.0
    raise RateLimited(
        "auth_request.too_many",
        "too many unfinished sign-in requests from this address; try again later",
        retry_after=math.ceil(wait),
    )
