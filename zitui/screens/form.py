"""A modal form: fields by id, a service call on submit, and errors on the field they name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static, TextArea

from zitui.errors import ZituiError
from zitui.screens.feedback import report

T = TypeVar("T")
FieldKind = Literal["text", "password", "check", "choice", "multi", "lines"]
Values = dict[str, Any]
Submit = Callable[[Values], Awaitable[T]]


@dataclass(frozen=True)
class Field:
    """One input; `id` is the name the core uses in `ZituiError.field`.

    Values: text and password give a str, check a bool, choice the chosen value,
    multi a list of the chosen values, lines a list of the non-empty lines.
    """

    id: str
    label: str
    value: Any = ""
    kind: FieldKind = "text"
    choices: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""
    hint: str = ""


class FormModal(ModalScreen[T | None], Generic[T]):
    """Dismisses with what `submit` returned, or None when cancelled.

    A failed submit keeps every value the operator typed, puts the message under the
    field the error names (else above the buttons) and focuses that field.
    """

    CSS_PATH = Path(__file__).with_name("form.tcss")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save"),
    ]

    def __init__(
        self,
        title: str,
        fields: Sequence[Field],
        submit: Submit[T],
        *,
        action: str = "Save",
        intro: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = tuple(fields)
        self.submit_call = submit
        self.action_label = action
        self.intro = intro

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Static(self.title_text, id="form-title", markup=False)
            if self.intro:
                yield Static(self.intro, id="form-intro", markup=False)
            with VerticalScroll(id="form-fields"):
                for field in self.fields:
                    with Horizontal(classes=f"form-row form-{field.kind}"):
                        label = "" if field.kind == "check" else field.label
                        yield Label(label, classes="form-label", markup=False)
                        yield self.make_input(field)
                    if field.hint:
                        yield Static(field.hint, classes="form-hint", markup=False)
                    yield Static(
                        "", id=f"{field.id}-message", classes="field-message", markup=False
                    )
            yield Static("", id="form-message", classes="field-message", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button(self.action_label, variant="primary", id="form-submit")
                yield Button("Cancel", id="form-cancel")
            yield Static(
                "Tab or Enter: next field · Ctrl+S: "
                + self.action_label.lower()
                + " · Escape: cancel",
                id="form-keys",
            )

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#{self.fields[0].id}").focus()

    @staticmethod
    def make_input(field: Field) -> Widget:
        match field.kind:
            case "check":
                return Checkbox(field.label, bool(field.value), id=field.id, compact=True)
            case "choice":
                options = [(label, value) for label, value in field.choices]
                return Select(
                    options, value=field.value, allow_blank=False, id=field.id, compact=True
                )
            case "multi":
                chosen = set(field.value or ())
                selections = [(label, value, value in chosen) for label, value in field.choices]
                return SelectionList[str](*selections, id=field.id, compact=True)
            case "lines":
                text = "\n".join(field.value or ())
                return TextArea(text, id=field.id, soft_wrap=False, compact=True)
            case _:
                return Input(
                    str(field.value),
                    placeholder=field.placeholder,
                    password=field.kind == "password",
                    id=field.id,
                    compact=True,
                )

    def values(self) -> Values:
        return {field.id: self.value_of(field) for field in self.fields}

    def value_of(self, field: Field) -> Any:
        widget = self.query_one(f"#{field.id}")
        if isinstance(widget, Checkbox):
            return widget.value
        if isinstance(widget, Select):
            return widget.value
        if isinstance(widget, SelectionList):
            return list(widget.selected)
        if isinstance(widget, TextArea):
            return [line.strip() for line in widget.text.splitlines() if line.strip()]
        assert isinstance(widget, Input)
        return widget.value

    @on(Input.Submitted)
    def next_or_submit(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = [f for f in self.fields if f.kind in ("text", "password")]
        if inputs and event.input.id == inputs[-1].id:
            self.action_submit()
        else:
            self.focus_next()

    @on(Button.Pressed, "#form-submit")
    def submit_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#form-cancel")
    def cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_submit(self) -> None:
        if self.query_one("#form-box").disabled:
            return
        self.clear_messages()
        self.query_one("#form-box").disabled = True
        self.run_submit(self.values())

    def action_cancel(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, exit_on_error=False)
    async def run_submit(self, values: Values) -> None:
        try:
            result = await self.submit_call(values)
        except Exception as error:
            self.failed(error)
            return
        self.dismiss(result)

    def failed(self, error: BaseException) -> None:
        self.query_one("#form-box").disabled = False
        text = report(self, error)
        field = error.field if isinstance(error, ZituiError) else None
        if field is None or field not in {f.id for f in self.fields}:
            self.show_message("form-message", text)
            return
        self.show_message(f"{field}-message", text)
        self.query_one(f"#{field}").focus()

    def show_message(self, message_id: str, text: str) -> None:
        message = self.query_one(f"#{message_id}", Static)
        message.update(text)
        message.display = bool(text)

    def clear_messages(self) -> None:
        for field in self.fields:
            self.show_message(f"{field.id}-message", "")
        self.show_message("form-message", "")
