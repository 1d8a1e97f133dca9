"""A real terminal for the console: tmux, driven by keys and read back from its screen."""

from __future__ import annotations

import subprocess
import time


class Terminal:
    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket_name, "kill-server"], capture_output=True)

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket_name, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "zitui")

    def keys(self, *keys: str) -> None:
        # One key group per write: a terminal app reading "\rtext\r" in one chunk may not
        # see the carriage returns as Enter presses, as a typing person's terminal would.
        for key in keys:
            self.tmux("send-keys", "-t", "zitui", key)
            time.sleep(0.2)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")
