"""The console's building blocks on their own: paged table, form, confirm and secret modals."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from tests.tui_fixtures import SIZE, fill, press, settle, type_text
from zitui.errors import AlreadyExists, InvalidArgument
from zitui.records import Page
from zitui.screens.confirm import ConfirmModal
from zitui.screens.feedback import UNEXPECTED
from zitui.screens.form import Field, FormModal, Values
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.secret import SecretModal

NAMES = [f"name-{i:03}" for i in range(120)]


class Row:
    def __init__(self, name: str) -> None:
        self.id = name
        self.name = name


class Harness(App[None]):
    """A bare app with one paged table over NAMES; `searches` records every load."""

    def __init__(self) -> None:
        super().__init__()
        self.searches: list[tuple[str, int]] = []
        self.errors: list[BaseException] = []
        self.results: list[Any] = []

    def compose(self) -> ComposeResult:
        yield PagedTable(
            self.load,
            [Column("Name", lambda r: r.name)],
            Nouns("names", "name"),
            id="names",
            page_size=50,
        )

    async def load(self, search: str, offset: int, limit: int) -> Page[Row]:
        self.searches.append((search, offset))
        found = [Row(n) for n in NAMES if search in n]
        return Page(tuple(found[offset : offset + limit]), len(found), offset, limit)

    def show_error(self, error: BaseException) -> None:
        self.errors.append(error)


def current_name(table: PagedTable) -> str:
    row = table.current
    assert isinstance(row, Row)
    return row.name


async def test_typing_loads_once_after_the_last_key() -> None:
    app = Harness()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.searches == [("", 0)]
        app.query_one("#names-search", Input).focus()
        await type_text(pilot, "name-11")
        assert app.searches == [("", 0), ("name-11", 0)]
        table = app.query_one(PagedTable)
        assert len(table.items) == 10
        assert shown(app, "#names-paging") == "Names 1–10 of 10"


async def test_paging_keeps_to_the_pages_and_a_reload_keeps_the_cursor() -> None:
    app = Harness()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(PagedTable)
        table.table.focus()
        await press(pilot, "n", "n")
        assert app.searches[-1] == ("", 100)
        assert current_name(table) == "name-100"
        await press(pilot, "n")  # the last page: nothing further to load
        assert app.searches[-1] == ("", 100)
        await press(pilot, "down", "down")
        table.reload()
        await settle(pilot)
        assert current_name(table) == "name-102"


def failing_once(error: BaseException) -> Any:
    """A form submit that raises `error` the first time and then returns the values."""
    raised: list[BaseException] = []

    async def submit(values: Values) -> Values:
        if not raised:
            raised.append(error)
            raise error
        return values

    return submit


def shown(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def test_a_form_puts_the_error_on_its_field_and_keeps_the_input() -> None:
    fields = [Field("name", "Name"), Field("email", "Email")]
    app = Harness()
    submit = failing_once(InvalidArgument("email.invalid", "not an address", field="email"))
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(FormModal("Test", fields, submit), app.results.append)
        await settle(pilot)
        await fill(pilot, "#name", "Ann")
        await fill(pilot, "#email", "nope")
        await press(pilot, "ctrl+s")
        form = app.screen
        assert isinstance(form, FormModal)
        assert shown(app, "#email-message") == "not an address"
        assert form.query_one("#email-message").display
        assert not form.query_one("#name-message").display
        assert form.query_one("#email", Input).has_focus
        assert form.query_one("#name", Input).value == "Ann"
        await press(pilot, "ctrl+s")
        assert app.results == [{"name": "Ann", "email": "nope"}]
    assert [str(e) for e in app.errors] == ["not an address"]


async def test_an_error_without_a_known_field_goes_above_the_buttons() -> None:
    fields = [Field("name", "Name")]
    for error, expected in (
        (AlreadyExists("x.taken", "taken somewhere else", field="other"), "taken somewhere else"),
        (RuntimeError("disk on fire"), UNEXPECTED),
    ):
        app = Harness()
        submit = failing_once(error)
        async with app.run_test(size=SIZE) as pilot:
            app.push_screen(FormModal("Test", fields, submit), app.results.append)
            await settle(pilot)
            await press(pilot, "ctrl+s")
            assert shown(app, "#form-message") == expected
            await press(pilot, "escape")
            assert app.results == [None]


async def test_confirm_says_no_unless_asked_for_yes() -> None:
    app = Harness()
    async with app.run_test(size=SIZE) as pilot:
        for keys, answer in (
            (["enter"], False),
            (["escape"], False),
            (["n"], False),
            (["y"], True),
            (["tab", "enter"], True),
        ):
            app.push_screen(ConfirmModal("Delete", "Really?"), app.results.append)
            await settle(pilot)
            await press(pilot, *keys)
            assert app.results.pop() is answer


async def test_a_secret_is_copied_with_c() -> None:
    app = Harness()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(SecretModal("Key", "Key file", '{\n  "key": "s3cret"\n}'))
        await settle(pilot)
        await press(pilot, "c")
        assert app.clipboard == '{\n  "key": "s3cret"\n}'
        await press(pilot, "escape")
        assert not isinstance(app.screen, SecretModal)
