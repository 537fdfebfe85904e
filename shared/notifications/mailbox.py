"""A real local SMTP server for the demo and the tests: aiosmtpd, writing every accepted
message into a Maildir folder (`<folder>/new/…`), read back with `mailbox_messages`.

It is not a mail system: it accepts everything for anyone on 127.0.0.1. `MailboxServer` runs
in a thread (tests, and the demo's launcher); `python -m shared.notifications.mailbox FOLDER
PORT` runs it as a process of its own.
"""

from __future__ import annotations

import mailbox
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _MaildirHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        box = mailbox.Maildir(str(self.folder), create=True)
        box.add(envelope.original_content or envelope.content)
        self.received += 1
        return "250 Message accepted for delivery"


class MailboxServer:
    """`with MailboxServer(folder, port=0) as server:` … `server.port`."""

    def __init__(self, folder: Path | str, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.folder = Path(folder)
        self.handler = _MaildirHandler(self.folder)
        self.controller = Controller(self.handler, hostname=host, port=port or _free_port(host))

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> MailboxServer:
        for sub in ("tmp", "new", "cur"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> MailboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def mailbox_messages(folder: Path | str) -> list[EmailMessage]:
    """Every message in the Maildir, oldest first (by delivery time)."""
    path = Path(folder)
    if not (path / "new").is_dir():
        return []
    files = sorted((path / "new").iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


def main(argv: list[str]) -> None:
    folder, port = Path(argv[0]), int(argv[1])
    with MailboxServer(folder, port=port):
        print(f"mailbox: smtp://127.0.0.1:{port} → {folder}", flush=True)  # noqa: T201
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
