"""The bed of the fuzz tests (tests/test_fuzz_endpoints.py): one store with a world of apps,
users, real codes, tokens and browsers on a login page, and the hypothesis strategies that
build requests from them.

Strings (unicode, control characters, huge), numbers, JSON-ish values, JWT-shaped strings
(valid JWTs of the trusted keys with mutated headers, claims and signatures), repeated
parameters and odd bodies. The login pages are read, not known: their forms' fields and
hidden inputs come from the HTML, so the strategies follow however those pages are built.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import assume
from hypothesis import strategies as st

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.oidc_fixtures import Harness, OffsetClock, World, authorize_params, build_world
from zitui.core.context import RequestMeta
from zitui.core.services import Services, open_services
from zitui.server import paths

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Pairs = list[tuple[str, str]]


# -- the bed: one store, one world, some real codes, tokens and browsers --------------------


@dataclass
class Browser:
    """A browser on a login page: its cookies, and what the page's forms carry."""

    cookies: dict[str, str]
    carried: Pairs  # hidden inputs (the CSRF token among them)
    query: Pairs  # the page's own query (the flow it shows)
    names: tuple[str, ...]  # every field name the page's forms use


@dataclass
class Bed:
    runner: asyncio.Runner
    services: Services
    harness: Harness
    world: World
    signers: list[Signer] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)  # real values, by kind
    browsers: list[Browser] = field(default_factory=list)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Bed()")  # hypothesis prints a failing example's arguments

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Pairs | None = None,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
    ) -> httpx2.Response:
        return self.runner.run(self._send(method, path, query, body, headers or {}, cookies))

    async def _send(
        self,
        method: str,
        path: str,
        query: Pairs | None,
        body: Body | None,
        headers: dict[str, str],
        cookies: dict[str, str] | None,
    ) -> httpx2.Response:
        url = path + ("?" + urlencode(query) if query else "")
        assume(len(url) < 32_000)  # longer URLs are refused by the HTTP client itself
        async with httpx2.AsyncClient(
            transport=self.harness.transport, base_url=self.harness.issuer, cookies=cookies
        ) as client:
            if body is None:
                return await client.request(method, url, headers=headers)
            return await client.request(
                method, url, headers={**body.headers, **headers}, **body.content
            )


@dataclass(frozen=True)
class Body:
    content: dict[str, Any]
    headers: dict[str, str]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    runner = asyncio.Runner()
    made = runner.run(_open(tmp_path_factory.mktemp("fuzz") / "data", runner))
    try:
        yield made
    finally:
        runner.run(made.harness.close())
        runner.run(made.services.close())
        runner.close()


async def _open(data_dir: Path, runner: asyncio.Runner) -> Bed:
    services, _ = await open_services(make_settings(data_dir), clock=OffsetClock())
    login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta(origin="t"))
    world = await build_world(services, login.context)
    harness = Harness(services)
    bed = Bed(runner=runner, services=services, harness=harness, world=world)
    signing = await services.keys.signing_key()
    issuer, robot = harness.issuer, world.robot_key["userId"]
    basic = world.clients["basic"].client_id
    bed.signers = [
        Signer(
            signing.kid, signing.key.as_pem(private=True).decode(), issuer, world.alice.id, basic
        ),
        Signer(world.robot_key["keyId"], world.robot_key["key"], robot, robot, issuer),
    ]
    for name in ("jwt", "api_jwt"):
        key_file = world.clients[name].key_file
        assert key_file is not None
        client_id = key_file["clientId"]
        bed.signers.append(Signer(key_file["keyId"], key_file["key"], client_id, client_id, issuer))
    await _real_values(bed)
    for _ in range(2):
        bed.browsers.append(await _browser(bed))
    return bed


async def _real_values(bed: Bed) -> None:
    world, harness = bed.world, bed.harness
    basic = world.clients["basic"]
    exchanged = await harness.code_flow(basic, world.alice, scope="openid offline_access")
    spare = await harness.code_flow(basic, world.alice)
    tokens = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "authorization_code", "code": exchanged["code"]},
        auth=(basic.client_id, basic.secret or ""),
    )
    issued = tokens.json()
    bed.values = {
        "client_id": [c.client_id for c in world.clients.values()] + ["robot"],
        "secret": [c.secret for c in world.clients.values() if c.secret] + [world.robot_secret],
        "redirect_uri": ["https://app.example/callback", "https://spa.example/callback"],
        "code": [exchanged["code"], spare["code"]],
        "token": [
            issued["access_token"],
            issued["refresh_token"],
            issued["id_token"],
            world.robot_pat,
        ],
        "id_token": [issued["id_token"]],
        "subject": [world.alice.id, world.robot_key["userId"]]
        + [c.client_id for c in world.clients.values()],
        "login_name": [world.alice.username, "bob", "robot", "admin"],
    }


async def _browser(bed: Bed) -> Browser:
    """A browser that followed an authorization request to the first login page."""
    params = authorize_params(bed.world.clients["basic"])
    async with httpx2.AsyncClient(
        transport=bed.harness.transport, base_url=bed.harness.issuer, follow_redirects=True
    ) as client:
        page = await client.get(paths.AUTHORIZE, params=params)
        cookies = dict(client.cookies.items())
    return browser_on(page, cookies)


def browser_on(page: httpx2.Response, cookies: dict[str, str]) -> Browser:
    """A browser that holds `cookies` and shows `page`: what its forms carry and name."""
    query = parse_qsl(urlsplit(str(page.url)).query, keep_blank_values=True)
    carried: Pairs = []
    names: list[str] = []
    for tag in re.findall(r"<(?:input|button|select|textarea)\b[^>]*>", page.text):
        attrs = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        if "name" not in attrs:
            continue
        names.append(attrs["name"])
        if attrs.get("type") == "hidden":
            carried.append((attrs["name"], attrs.get("value", "")))
    for action in re.findall(r'<form\b[^>]*action="([^"]*)"', page.text):
        query += parse_qsl(urlsplit(html.unescape(action)).query, keep_blank_values=True)
    return Browser(cookies, carried, query, tuple(dict.fromkeys(names)))


# -- strategies ---------------------------------------------------------------------------

# Text an HTTP client can send in a form or query: any unicode but lone surrogates.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
huge = st.builds(lambda part, n: (part or "x") * n, text, st.integers(500, 5000))
numbers = st.one_of(
    st.integers(), st.floats(), st.sampled_from(["²", "٣", "１０", "1e999", "NaN", "-0"])
).map(str)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(10**400),
    st.text(max_size=12),  # inside JSON, escaped: lone surrogates included
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
json_text = json_values.map(json.dumps)
# Printable ASCII: what an HTTP header value can hold.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(signing_input: bytes, pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return b64(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))


@dataclass(frozen=True)
class Signer:
    """A key the provider trusts, and the claims a valid JWT signed with it would carry."""

    kid: str
    pem: str
    issuer: str
    subject: str
    audience: str


# Header values a JOSE library may trip on, whole or as a `crit`.
awkward = st.one_of(
    json_values,
    st.lists(st.sampled_from(["alg", "kid", "crit", "b64", "RS256"]) | json_leaves, max_size=3),
    st.sampled_from(["alg", "xalgx", "crit", "RS256"]),
)


def mutated(base: dict[str, Any], extra: dict[str, st.SearchStrategy[Any]]) -> Any:
    """`base` with some members replaced by awkward values, some removed and some of `extra`
    added; now and then something that is not an object at all."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        if draw(st.integers(0, 3)) == 0:
            return draw(awkward)
        found = dict(base)
        for name in base:
            choice = draw(st.integers(0, 5))
            if choice == 0:
                del found[name]
            elif choice == 1:
                found[name] = draw(awkward)
        for name, strategy in extra.items():
            if draw(st.integers(0, 2)) == 0:
                found[name] = draw(strategy)
        return found

    return build()


def jwt_shaped(bed: Bed) -> st.SearchStrategy[str]:
    """Compact JWS-looking strings: a valid JWT for one of the trusted keys, mutated (header,
    claims, signature), or dots between random text."""
    dates = st.one_of(st.builds(lambda d: int(time.time()) + d, st.integers(-7200, 7200)), awkward)
    header_extra = {
        "crit": awkward | st.just(["exp"]),
        "typ": st.sampled_from(["JWT", "at+jwt"]) | awkward,
        "b64": awkward,
        "jwk": awkward,
        "zip": awkward,
    }
    claims_extra = {
        "nbf": dates,
        "jti": st.text(max_size=8) | awkward,
        "azp": awkward,
        "aud": st.lists(st.sampled_from([bed.harness.issuer, bed.harness.issuer + "/x"])),
    }

    @st.composite
    def build(draw: st.DrawFn) -> str:
        signer = draw(st.sampled_from(bed.signers))
        now = int(time.time())
        head = draw(mutated({"alg": "RS256", "kid": signer.kid}, header_extra))
        valid = {
            "iss": signer.issuer,
            "sub": signer.subject,
            "aud": signer.audience,
            "iat": now,
            "exp": draw(dates),
        }
        body = draw(mutated(valid, claims_extra))
        signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}"
        garbage = draw(st.none() | st.binary(max_size=64))
        signature = (
            b64(garbage) if garbage is not None else sign(signing_input.encode(), signer.pem)
        )
        return f"{signing_input}.{signature}"

    dotted = st.lists(st.text(max_size=20), min_size=2, max_size=5).map(".".join)
    return st.one_of(build(), build(), dotted)


def values(bed: Bed, *kinds: str) -> st.SearchStrategy[str]:
    """A value of one of `kinds` that the store knows, or anything at all."""
    known = [value for kind in kinds for value in bed.values.get(kind, [])]
    anything = st.one_of(text, huge, numbers, json_text, jwt_shaped(bed))
    return (st.sampled_from(known) | anything) if known else anything


def pairs(bed: Bed, fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[Pairs]:
    """Some of `fields` (now and then twice), and now and then a parameter nobody knows."""
    chosen = st.lists(st.sampled_from(sorted(fields)), max_size=len(fields) + 2)
    if not fields:
        chosen = st.just([])
    extra = st.lists(st.tuples(text, text), max_size=2)

    @st.composite
    def build(draw: st.DrawFn) -> Pairs:
        found = [(name, draw(fields[name])) for name in draw(chosen)]
        return found + draw(extra)

    return build()


def bodies(
    pairs_strategy: st.SearchStrategy[Pairs], *, uploads: bool = True
) -> st.SearchStrategy[Body]:
    """The pairs as a urlencoded body, mostly; sometimes JSON, multipart (with a file part
    when `uploads`), or raw bytes."""
    form = "application/x-www-form-urlencoded"
    urlencoded = pairs_strategy.map(
        lambda p: Body({"content": urlencode(p).encode()}, {"content-type": form})
    )
    as_json = pairs_strategy.map(
        lambda p: Body(
            {"content": json.dumps(dict(p)).encode()}, {"content-type": "application/json"}
        )
    )
    raw = st.binary(max_size=200).map(lambda b: Body({"content": b}, {"content-type": form}))
    kinds = [urlencoded, urlencoded, urlencoded, as_json, pairs_strategy.map(multipart), raw]
    if uploads:
        with_file = pairs_strategy.map(
            lambda p: Body({"data": dict(p), "files": {"upload": ("a.txt", b"x")}}, {})
        )
        kinds.append(with_file)
    return st.one_of(kinds)


def multipart(pairs: Pairs) -> Body:
    """multipart/form-data written by hand: names and values go in unescaped."""
    boundary = "fuzz-boundary"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in pairs
    )
    content = f"{parts}--{boundary}--\r\n".encode()
    return Body({"content": content}, {"content-type": f"multipart/form-data; boundary={boundary}"})


def authorization_headers(bed: Bed) -> st.SearchStrategy[dict[str, str]]:
    secrets = st.sampled_from(bed.values["secret"]) | header_text
    ids = st.sampled_from(bed.values["client_id"]) | header_text
    basic = st.builds(
        lambda i, s: "Basic " + base64.b64encode(f"{i}:{s}".encode()).decode(), ids, secrets
    )
    tokens = st.sampled_from(bed.values["token"]) | jwt_shaped(bed) | header_text
    bearer = st.builds(
        lambda scheme, t: f"{scheme} {t}", st.sampled_from(["Bearer", "bearer"]), tokens
    )
    header = st.one_of(basic, bearer, header_text, st.builds(lambda t: "Basic " + t, header_text))
    return st.none().map(lambda _: {}) | header.map(lambda h: {"authorization": printable(h)})


def printable(value: str) -> str:
    """What an HTTP header can carry: printable ASCII."""
    return re.sub(r"[^\x20-\x7e]", "?", value)


def assert_no_server_error(response: httpx2.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
