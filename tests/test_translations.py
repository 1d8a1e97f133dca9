"""Every message in every shipped language.

The catalogues agree on their keys and on the `{placeholders}` of each message; every key a
template (`t("...")`) or the code (`translate(..., "...")`, `lookup(..., "...")`) names
exists; every error code zitui raises has a message, since pages show `lookup(locale, code)`;
and no page shows a raw key. The scanners are tested on small inputs too, so each check is
known to fail when it should.
"""

from __future__ import annotations

import ast
import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD
from tests.test_login_auth_requests import password_for, portal_app, real_auth_request, start
from tests.test_login_pages import (
    add_user,
    login_client,
    read,
    run,
    services_of,
    sign_in,
    submit,
    the_form,
)
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.i18n import SUPPORTED_LOCALES, TRANSLATIONS_DIR, flatten
from zitui.server import paths, rendering

PACKAGE = Path(__file__).resolve().parents[1] / "zitui"
ERROR_BASE = "ZituiError"
# Calls that carry an error code as their first argument without being an exception.
CODE_CARRIERS = {"Refusal": 0}
TEMPLATE_SUFFIXES = (".html", ".txt")
KEY_CALLS = ("translate", "lookup")

# --- catalogues ---------------------------------------------------------------------------


def load(path: Path) -> dict[str, str]:
    with path.open("rb") as fh:
        return flatten(tomllib.load(fh))


def shipped() -> dict[str, dict[str, str]]:
    return {path.stem: load(path) for path in sorted(TRANSLATIONS_DIR.glob("*.toml"))}


def missing(
    keys: Iterable[str], catalogues: Mapping[str, Mapping[str, str]]
) -> dict[str, list[str]]:
    """Per language, the keys it lacks (languages that lack none are left out)."""
    wanted = set(keys)
    gaps = {lang: sorted(wanted - set(messages)) for lang, messages in catalogues.items()}
    return {lang: keys for lang, keys in gaps.items() if keys}


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name is not None}


def placeholder_mismatches(
    catalogues: Mapping[str, Mapping[str, str]],
) -> dict[str, dict[str, set[str]]]:
    """Keys whose `{names}` differ between languages, with each language's names."""
    found: dict[str, dict[str, set[str]]] = {}
    keys = set().union(*(set(messages) for messages in catalogues.values()))
    for key in sorted(keys):
        names = {lang: placeholders(msgs[key]) for lang, msgs in catalogues.items() if key in msgs}
        if len({frozenset(n) for n in names.values()}) > 1:
            found[key] = names
    return found


# --- keys named by templates and code ------------------------------------------------------

# A whole literal key: `t("a.b" ~ kind)` builds its key and is checked by rendering instead.
_TEMPLATE_KEY = re.compile(r"""(?<![\w.])t\(\s*(?P<q>["'])(?P<key>[^"'{}]+)(?P=q)\s*[,)]""")


def template_keys(source: str) -> set[str]:
    """Keys of `t("literal")` / `t('literal')` calls in a template."""
    return {match["key"] for match in _TEMPLATE_KEY.finditer(source)}


def template_files() -> list[Path]:
    return sorted(
        path
        for folder in PACKAGE.rglob("templates")
        for path in folder.rglob("*")
        if path.suffix in TEMPLATE_SUFFIXES
    )


def python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def python_keys(tree: ast.AST) -> set[str]:
    """Literal keys of `translate(locale, "key", ...)` and `lookup(locale, "key")`."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node) in KEY_CALLS and len(node.args) > 1:
            key = node.args[1]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
    return keys


# --- error codes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeParam:
    """Where a class takes its code: a position (None: keyword only) and a default."""

    position: int | None = 0
    default: str | None = None


@dataclass
class RaisedCodes:
    codes: dict[str, list[str]] = field(default_factory=dict)  # code -> places
    built: dict[str, list[str]] = field(default_factory=dict)  # f-string pattern -> places

    def add(self, code: str, place: str) -> None:
        self.codes.setdefault(code, []).append(place)


def _code_param(cls: ast.ClassDef) -> CodeParam | None:
    """The class's own `__init__` code parameter, or None when it does not define one."""
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            positional = [a.arg for a in item.args.posonlyargs + item.args.args][1:]
            if "code" in positional:
                index = positional.index("code")
                defaults = item.args.defaults
                offset = index - (len(positional) - len(defaults))
                default = defaults[offset] if offset >= 0 else None
                return CodeParam(index, _literal(default))
            for arg, default in zip(item.args.kwonlyargs, item.args.kw_defaults, strict=True):
                if arg.arg == "code":
                    return CodeParam(None, _literal(default))
            return CodeParam(None, None)
    return None


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def error_classes(trees: Mapping[str, ast.Module]) -> dict[str, CodeParam]:
    """Every ZituiError subclass defined in the trees, by name, with its code parameter."""
    classes: dict[str, tuple[list[str], CodeParam | None]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                ]
                classes[node.name] = (bases, _code_param(node))
    found: dict[str, CodeParam] = {ERROR_BASE: CodeParam()}
    grew = True
    while grew:
        grew = False
        for name, (bases, own) in classes.items():
            parent = next((b for b in bases if b in found), None)
            if name not in found and parent is not None:
                found[name] = own or found[parent]
                grew = True
    return found


def _assigned(body: Iterable[ast.AST]) -> dict[str, list[ast.AST]]:
    """What each plain name is assigned in a scope (not in scopes nested in it)."""
    values: dict[str, list[ast.AST]] = {}
    pending = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
        pending.extend(ast.iter_child_nodes(node))
    return values


def _pattern(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        literal = _literal(value)
        parts.append(re.escape(literal) if literal is not None else r"[a-z0-9_.]+")
    return "".join(parts)


Names = Mapping[str, list[ast.AST]]
_Found = tuple[list[str], list[str]]


def _resolve(node: ast.AST, names: Names, seen: frozenset[str] = frozenset()) -> _Found:
    """(codes, f-string patterns) an expression may evaluate to, as far as it can be read:
    literals, names assigned in the function or module, and both sides of `x if c else y`."""
    literal = _literal(node)
    if literal is not None:
        return [literal], []
    if isinstance(node, ast.Name) and node.id in names and node.id not in seen:
        codes: list[str] = []
        built: list[str] = []
        for value in names[node.id]:
            more_codes, more_built = _resolve(value, names, seen | {node.id})
            codes += more_codes
            built += more_built
        return codes, built
    if isinstance(node, ast.IfExp):
        body, body_built = _resolve(node.body, names, seen)
        orelse, orelse_built = _resolve(node.orelse, names, seen)
        return body + orelse, body_built + orelse_built
    if isinstance(node, ast.JoinedStr):
        return [], [_pattern(node)]
    return [], []


class _CodeFinder(ast.NodeVisitor):
    """Walks one module, knowing at each call the names its function and module assign."""

    def __init__(self, path: str, carriers: Mapping[str, CodeParam], found: RaisedCodes) -> None:
        self.path, self.carriers, self.found = path, carriers, found
        self.scopes: list[dict[str, list[ast.AST]]] = []

    def visit_Module(self, node: ast.Module) -> None:  # noqa: N802
        self._scoped(node, node.body)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # noqa: N802
        self._scoped(node, node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:  # noqa: N802
        self._scoped(node, node.body)

    def _scoped(self, node: ast.AST, body: list[ast.stmt]) -> None:
        self.scopes.append(_assigned(body))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        names: dict[str, list[ast.AST]] = {}
        for scope in (self.scopes[0], self.scopes[-1]):  # module, then the innermost function
            names.update(scope)
        place = f"{self.path}:{node.lineno}"
        name = _called_name(node) or ""
        arguments = _code_arguments(node, self.carriers.get(name))
        for argument in arguments:
            codes, built = _resolve(argument, names)
            for code in codes:
                self.found.add(code, place)
            for pattern in built:
                self.found.built.setdefault(pattern, []).append(place)
        default = self.carriers[name].default if name in self.carriers else None
        if default is not None and not _gives_code(node, self.carriers[name]):
            self.found.add(default, place)
        self.generic_visit(node)


def _gives_code(call: ast.Call, param: CodeParam) -> bool:
    by_keyword = any(k.arg == "code" for k in call.keywords)
    by_position = param.position is not None and len(call.args) > param.position
    return by_keyword or by_position


def raised_codes(trees: Mapping[str, ast.Module]) -> RaisedCodes:
    """The error codes passed to ZituiError subclasses (and code carriers), by place."""
    carriers = {name: CodeParam(position) for name, position in CODE_CARRIERS.items()}
    carriers.update(error_classes(trees))
    found = RaisedCodes()
    for path, tree in trees.items():
        _CodeFinder(path, carriers, found).visit(tree)
    return found


def _code_arguments(call: ast.Call, param: CodeParam | None) -> list[ast.AST]:
    """The code given to a carrier, and any `code=` / `*_code=` keyword of any call."""
    given: list[ast.AST] = [
        k.value for k in call.keywords if k.arg and (k.arg == "code" or k.arg.endswith("_code"))
    ]
    if param is not None and param.position is not None and len(call.args) > param.position:
        given.append(call.args[param.position])
    return given


def parsed_package() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE.parent)): ast.parse(path.read_text(), filename=str(path))
        for path in python_files()
    }


# --- the checks on the real package ---------------------------------------------------------


@pytest.fixture(scope="module")
def catalogues() -> dict[str, dict[str, str]]:
    return shipped()


@pytest.fixture(scope="module")
def package() -> dict[str, ast.Module]:
    return parsed_package()


def test_each_supported_language_ships_a_catalogue(catalogues: dict[str, dict[str, str]]) -> None:
    assert sorted(catalogues) == sorted(SUPPORTED_LOCALES)
    assert {"en", "de", "fr"} <= set(catalogues)


def test_every_catalogue_has_every_key_of_the_others(catalogues: dict[str, dict[str, str]]) -> None:
    every_key = set().union(*(set(messages) for messages in catalogues.values()))
    assert missing(every_key, catalogues) == {}


def test_no_message_is_empty(catalogues: dict[str, dict[str, str]]) -> None:
    empty = [
        (lang, key) for lang, msgs in catalogues.items() for key, m in msgs.items() if not m.strip()
    ]
    assert empty == []


def test_french_puts_a_no_break_space_before_double_punctuation(
    catalogues: dict[str, dict[str, str]],
) -> None:
    """French typography, one way throughout: U+00A0 before : ? ! ; (a plain space may break
    the line right before the mark)."""
    plain = re.compile(r"[^\W_] [:?!;]")
    assert [key for key, message in catalogues["fr"].items() if plain.search(message)] == []


def test_placeholders_are_the_same_in_every_language(catalogues: dict[str, dict[str, str]]) -> None:
    assert placeholder_mismatches(catalogues) == {}


def test_every_template_key_exists(catalogues: dict[str, dict[str, str]]) -> None:
    files = template_files()
    assert any("server/templates" in str(p) for p in files)
    used = {key: path.name for path in files for key in template_keys(path.read_text())}
    assert len(used) > 20
    assert missing(used, catalogues) == {}


def test_every_key_named_in_code_exists(
    catalogues: dict[str, dict[str, str]], package: dict[str, ast.Module]
) -> None:
    used = set().union(*(python_keys(tree) for tree in package.values()))
    assert "mail.greeting" in used
    assert missing(used, catalogues) == {}


def test_every_raised_error_code_has_a_message(
    catalogues: dict[str, dict[str, str]], package: dict[str, ast.Module]
) -> None:
    raised = raised_codes(package)
    assert {"auth.bad_credentials", "org.not_found", "blueprint.invalid"} <= set(raised.codes)
    assert "membership.last_iam_owner" in raised.codes  # a module constant
    assert {"notification.sent", "notification.sending"} <= set(raised.codes)  # a choice
    assert "user.lock.state" in raised.codes  # a `refusal_code=` keyword
    assert "auth_request.role_required" in raised.codes  # a carrier
    gaps = missing(raised.codes, catalogues)
    assert {
        lang: {code: raised.codes[code][0] for code in codes} for lang, codes in gaps.items()
    } == {}


def test_every_code_built_at_run_time_has_some_message(
    catalogues: dict[str, dict[str, str]], package: dict[str, ast.Module]
) -> None:
    """Codes assembled from parts (`f"{field}.invalid"`) cannot be listed, but each shape
    must have messages: a new shape without any fails here."""
    built = raised_codes(package).built
    assert r"[a-z0-9_.]+\.required" in built
    for lang, messages in catalogues.items():
        shapes = [p for p in built if not any(re.fullmatch(p, key) for key in messages)]
        assert shapes == [], (lang, {p: built[p] for p in shapes})


# --- the scanners fail when they should ----------------------------------------------------


def test_an_unknown_template_key_is_reported() -> None:
    source = """{% extends "base.html" %}
<h1>{{ t("login.name.title") }}</h1><p>{{ t('no.such.key', n=1) }}</p>
{{ input("login_name", t("login.name.label"), errors) }}{{ t(variable) }}
{{ t("login.auth_request." ~ kind ~ ".title") }}{{ t( "mail.greeting" ) }}"""
    keys = template_keys(source)
    assert keys == {"login.name.title", "no.such.key", "login.name.label", "mail.greeting"}
    known = {"login.name.title": "x", "login.name.label": "y", "mail.greeting": "z"}
    report = missing(keys, {"en": known})
    assert report == {"en": ["no.such.key"]}


def test_keys_named_in_code_are_found() -> None:
    tree = ast.parse('translate(locale, "a.b", n=1)\ni18n.lookup(x, "c.d")\ntranslate(x, key)\n')
    assert python_keys(tree) == {"a.b", "c.d"}


def test_codes_are_found_in_every_form_they_are_raised() -> None:
    trees = {
        "errors.py": ast.parse(
            "class ZituiError(Exception): ...\n"
            "class NotFound(ZituiError): ...\n"
            "class Later(NotFound):\n"
            "    def __init__(self, message, code='later.default'): ...\n"
            "class Oops(ZituiError):\n"
            "    def __init__(self, path, *, code='oops.default'): ...\n"
        ),
        "use.py": ast.parse(
            "WHY = 'use.constant'\n"
            "raise NotFound(\n"
            "    'use.multi_line',\n"
            "    'a message',\n"
            ")\n"
            "raise errors.NotFound(WHY if x else 'use.other', 'm')\n"
            "raise Later('m')\n"
            "raise Later('m', 'later.given')\n"
            "raise Oops('p')\n"
            "raise Oops('p', code='oops.given')\n"
            "raise NotFound(f'{field}.invalid', 'm')\n"
            "Refusal('use.refused', 'm')\n"
            "Step(refusal_code='use.keyword', status_code=401)\n"
            "ValueError('not.a.code')\n"
            "def retry():\n"
            "    why = 'use.local' if x else 'use.local_other'\n"
            "    raise Later('m', why)\n"
            "def other():\n"
            "    raise NotFound(why, 'm')\n"
        ),
    }
    raised = raised_codes(trees)
    assert sorted(raised.codes) == [
        "later.default",
        "later.given",
        "oops.default",
        "oops.given",
        "use.constant",
        "use.keyword",
        "use.local",
        "use.local_other",
        "use.multi_line",
        "use.other",
        "use.refused",
    ]
    assert raised.codes["use.multi_line"] == ["use.py:2"]
    assert raised.codes["use.local"] == ["use.py:17"]  # not again for `why` in other()
    assert list(raised.built) == [r"[a-z0-9_.]+\.invalid"]
    assert missing(raised.codes, {"fr": {"use.constant": "c"}})["fr"][0] == "later.default"


def test_differing_placeholders_and_missing_keys_are_reported() -> None:
    catalogues = {
        "en": {"a.b": "Hello {name}", "a.c": "{n} left", "a.d": "Done"},
        "de": {"a.b": "Hallo {nom}", "a.c": "{n} übrig"},
    }
    assert placeholder_mismatches(catalogues) == {"a.b": {"en": {"name"}, "de": {"nom"}}}
    assert missing({"a.b", "a.c", "a.d"}, catalogues) == {"de": ["a.d"]}


# --- pages in every language show no raw key -----------------------------------------------


def known_keys(
    catalogues: Mapping[str, Mapping[str, str]], package: Mapping[str, ast.Module]
) -> set[str]:
    keys = set().union(*(set(messages) for messages in catalogues.values()))
    keys |= {key for path in template_files() for key in template_keys(path.read_text())}
    keys |= set().union(*(python_keys(tree) for tree in package.values()))
    return keys | set(raised_codes(package).codes)


_DOTTED = re.compile(r"(?<![\w.@/-])[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+(?![\w@/-])")


def raw_keys(html: str, keys: set[str]) -> set[str]:
    """Keys that appear as such in a page: known keys and error codes, and unknown keys of a
    known table (`t("language." ~ code)` for a language without a name)."""
    tables = {key.rpartition(".")[0] for key in keys}
    return {
        token
        for token in _DOTTED.findall(html)
        if token in keys or token.rpartition(".")[0] in tables
    }


def test_raw_keys_are_found_in_a_page() -> None:
    keys = {"login.name.title", "auth.bad_credentials", "site.name", "language.en"}
    html = (
        '<h1>login.name.title</h1><p class="x">auth.bad_credentials.</p><a href="/a/site.name/">'
        "<option>language.xx</option><p>login.name.nope</p>"
    )
    found = {"login.name.title", "auth.bad_credentials", "language.xx", "login.name.nope"}
    assert raw_keys(html, keys) == found
    text = "<p>mail for alice@site.name at zitui.example.com or login.example.com</p>"
    assert raw_keys(text, keys) == set()


@dataclass
class Tour:
    """A browser going through every login page in one language, keeping each page."""

    client: TestClient
    language: str
    clock: FixedClock
    pages: dict[str, str] = field(default_factory=dict)

    def keep(self, name: str, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, (name, response.status_code)
        assert f'<html lang="{self.language}">' in response.text, name
        self.pages[name] = response.text
        return response

    def visit(self) -> None:
        client = self.client
        self.keep("index", client.get(paths.HOME))
        self.keep("not found", client.get("/no/such/page"), 404)
        entry = self.keep("login name", client.get(paths.LOGIN))
        form = the_form(entry.text, paths.LOGIN_NAME)
        self.keep("bad login name", submit(client, form, login_name="al ice"), 400)
        named = self.keep("password", submit(client, form, login_name="admin"))
        password_form = the_form(named.text, paths.LOGIN_PASSWORD)
        self.keep("wrong password", submit(client, password_form, password="Wrong-1!"), 401)
        self.keep("csrf", client.post(paths.LOGIN_NAME, data={"login_name": "x"}), 403)
        forgot = the_form(named.text, paths.LOGIN_PASSWORD_RESET)
        self.keep("password reset", submit(client, forgot))
        self._change_password()
        self.keep("signed in", client.get(paths.LOGIN_SIGNED_IN))
        self._account()
        self.keep("select account", client.get(paths.LOGIN))
        self.keep("logout confirm", client.get(paths.END_SESSION))
        self.keep("logged out", client.get(paths.LOGOUT_DONE))
        self._registration()
        self._requests()

    def _change_password(self) -> None:
        add_user(self.client, "carol", password_change_required=True)
        change = self.keep("password change", sign_in(self.client, "carol"))
        form = the_form(change.text, paths.LOGIN_PASSWORD_CHANGE)
        mismatch = submit(self.client, form, new_password="Carol-New-2!", new_password_repeat="x")
        self.keep("password mismatch", mismatch, 400)
        done = submit(
            self.client, form, new_password="Carol-New-2!", new_password_repeat="Carol-New-2!"
        )
        assert done.status_code == 303

    def _account(self) -> None:
        """The account pages of the user who signed in last (carol, who has no language of
        her own), a refused change on one, and the page after an account is deleted."""
        client = self.client
        for path in ACCOUNT_PAGES:
            self.keep(f"account {path}", client.get(path))
        profile = client.get(paths.ACCOUNT)
        form = the_form(profile.text, paths.ACCOUNT_PROFILE)
        self.keep("account refused", submit(client, form, first_name=""), 400)
        self.keep("account deleted", client.get(paths.ACCOUNT_DELETED))

    def _registration(self) -> None:
        """Register, verify the email with the mail's code, and open the link elsewhere."""
        client = self.client
        client.cookies.clear()
        entry = client.get(paths.LOGIN)
        flow_id = the_form(entry.text, paths.LOGIN_NAME).values["flow"]
        page = self.keep("register", client.get(paths.LOGIN_REGISTER, params={"flow": flow_id}))
        form = the_form(page.text, paths.LOGIN_REGISTER)
        values = {
            "given_name": "Dora",
            "family_name": "Example",
            "email": "dora@example.org",
            "language": self.language,
            "password": "Dora-Pass-12!",
            "password_repeat": "Dora-Pass-12!",
        }
        self.keep("register without terms", submit(client, form, **values), 400)
        verify = self.keep("verify email", submit(client, form, terms="on", **values))
        code_form = the_form(verify.text, paths.LOGIN_VERIFY_EMAIL)
        self.keep("wrong code", submit(client, code_form, code="WRONG1"), 400)
        link = urlsplit(self._mailed_link())
        query = [(k, v) for k, v in parse_qsl(link.query) if k != "flow"]
        client.cookies.clear()  # the link opened in another browser
        opened = self.keep("verify link", client.get(link.path, params=query))
        verified = submit(client, the_form(opened.text, paths.LOGIN_VERIFY_EMAIL))
        self.keep("email verified", verified)

    def _mailed_link(self) -> str:
        """The link in the text body of the one mail written so far (as an .eml file)."""
        run(self.client, lambda services: services.sender.deliver_batch())
        mail_dir = services_of(self.client).settings.data_dir / "mail"
        [path] = mail_dir.iterdir()
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        # In the language the user registered with.
        subject = load(TRANSLATIONS_DIR / f"{self.language}.toml")["mail.email.verify.subject"]
        assert re.fullmatch(re.escape(subject).replace(r"\{instance\}", ".+"), mail["Subject"])
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        return next(line for line in text.get_content().splitlines() if line.startswith("http"))

    def _requests(self) -> None:
        """Pages of an application's sign-in request: unknown, refused, expired."""
        client = self.client
        client.cookies.clear()
        self.keep("unknown request", start(client, "nope"), 404)
        client_id = portal_app(client, role_check=True)
        refused = real_auth_request(client, client_id=client_id)
        entry = start(client, refused)
        self.keep("refused", password_for(client, entry.text, "admin", ADMIN_PASSWORD), 403)
        expiring = real_auth_request(client, client_id=client_id)
        self.clock.advance(timedelta(hours=2))
        self.keep("expired request", start(client, expiring), 410)


ACCOUNT_PAGES = (
    paths.ACCOUNT,
    paths.ACCOUNT_PASSWORD,
    paths.ACCOUNT_SECURITY,
    paths.ACCOUNT_CONNECTIONS,
    paths.ACCOUNT_SESSIONS,
    paths.ACCOUNT_DELETE,
)
TOUR_TEMPLATES = {
    "index.html",
    "error.html",
    "login/login_name.html",
    "login/password.html",
    "login/password_change.html",
    "login/select_account.html",
    "login/signed_in.html",
    "login/logout_confirm.html",
    "login/logged_out.html",
    "login/auth_request_error.html",
    "login/refused.html",
    "login/register.html",
    "login/verify_email.html",
    "login/set_password.html",
    "login/email_verified.html",
    "account/profile.html",
    "account/password.html",
    "account/security.html",
    "account/connections.html",
    "account/sessions.html",
    "account/delete.html",
    "account/deleted.html",
}


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_no_page_shows_a_raw_key(
    language: str,
    settings: Settings,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    catalogues: dict[str, dict[str, str]],
    package: dict[str, ast.Module],
) -> None:
    rendered: set[str] = set()
    get_template = rendering.environment.get_template

    def recording(name: str, *args: Any, **kwargs: Any) -> Any:
        rendered.add(name)
        return get_template(name, *args, **kwargs)

    monkeypatch.setattr(rendering.environment, "get_template", recording)
    keys = known_keys(catalogues, package)
    with login_client(settings, clock, monkeypatch) as client:
        client.headers["Accept-Language"] = language
        tour = Tour(client, language, clock)
        tour.visit()
    assert rendered >= TOUR_TEMPLATES
    shown = {name: raw_keys(html, keys) for name, html in tour.pages.items()}
    assert {name: found for name, found in shown.items() if found} == {}
    if language != "en":
        english = catalogues["en"]
        assert english["login.name.title"] not in tour.pages["login name"]
        assert catalogues[language]["auth.bad_credentials"] in read_text(
            tour.pages["wrong password"]
        )


def read_text(html: str) -> str:
    return " ".join("".join(read(html).main_text).split())
