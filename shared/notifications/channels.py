"""Channel adapters: how one queued message leaves (email over SMTP, an SMS gateway over HTTP,
JSON lines into a folder), behind one protocol.

An adapter either returns (the peer accepted the message) or raises `DeliveryError`, saying
whether the same message may succeed later (`retryable`: the peer is down, busy, timed out) or
never will (a refused address, a 4xx from the gateway). Settings are read at call time.
"""

from __future__ import annotations

import json
import os
import smtplib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from shared.conf.env import var_dir


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What a channel sends: ids, not rows (an adapter never touches the database)."""

    id: str
    event: str
    address: str
    subject: str
    body: str
    link: str


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ChannelAdapter(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


def _text(message: Message) -> str:
    return f"{message.body}\n\n{message.link}" if message.link else message.body


class EmailChannel:
    """SMTP with Django's connection settings (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, …).

    The backend is named explicitly: a test run swaps EMAIL_BACKEND for the in-memory one,
    and this channel must still speak SMTP. The Message-ID is derived from the row's id, so a
    mail system that sees the same message twice can tell."""

    name = "email"

    def send(self, message: Message) -> None:
        connection = get_connection(
            settings.NOTIFY_EMAIL_BACKEND, timeout=settings.NOTIFY_SEND_TIMEOUT
        )
        email = EmailMessage(
            subject=message.subject,
            body=_text(message),
            from_email=settings.NOTIFY_EMAIL_FROM,
            to=[message.address],
            headers={
                "Message-ID": f"<{message.id}@notify.{settings.LIBRARY_CODE}.elicense>",
                "X-Elicense-Event": message.event,
            },
            connection=connection,
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"收件地址被拒绝：{codes}", retryable=all(400 <= c < 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"邮件服务器拒绝：{exc.smtp_code} {exc.smtp_error!r}"[:400],
                retryable=exc.smtp_code < 500,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out
            raise DeliveryError(f"邮件服务器不可用：{exc}"[:400], retryable=True) from exc


class SmsChannel:
    """An SMS gateway over HTTP: POST {id, phone, text} with a bearer token.

    2xx accepted; 4xx refused for good; anything else (5xx, no answer) retried. The gateway is
    given the row's id so that it can drop a repeat (see sms_reference.ReferenceSmsGateway)."""

    name = "sms"

    def send(self, message: Message) -> None:
        url = settings.NOTIFY_SMS_URL
        if not url:
            raise DeliveryError("未配置短信网关（NOTIFY_SMS_URL）", retryable=False)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if settings.NOTIFY_SMS_TOKEN:
            headers["Authorization"] = f"Bearer {settings.NOTIFY_SMS_TOKEN}"
        text = f"【{settings.LIBRARY_NAME}】{message.subject}：{message.body}"
        payload = {"id": message.id, "phone": message.address, "text": text[:500]}
        try:
            response = requests.post(
                url,
                data=json.dumps(payload, ensure_ascii=False).encode(),
                headers=headers,
                timeout=(2.0, float(settings.NOTIFY_SEND_TIMEOUT)),
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"短信网关不可用：{exc}"[:400], retryable=True) from exc
        if 200 <= response.status_code < 300:
            return
        retryable = not (400 <= response.status_code < 500) or response.status_code == 429
        raise DeliveryError(
            f"短信网关拒绝：HTTP {response.status_code} {response.text[:200]}", retryable=retryable
        )


def file_channel_dir() -> Path:
    return Path(settings.NOTIFY_FILE_DIR or var_dir() / "notifications")


class FileChannel:
    """One JSON line per message in `<NOTIFY_FILE_DIR>/<YYYY-MM-DD>.jsonl`, flushed to disk
    before it counts as sent (a folder another system collects, or the demo reads)."""

    name = "file"

    def send(self, message: Message) -> None:
        folder = file_channel_dir()
        line = {
            "id": message.id,
            "event": message.event,
            "to": message.address,
            "subject": message.subject,
            "body": message.body,
            "link": message.link,
            "at": timezone.now().isoformat(),
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{timezone.localdate().isoformat()}.jsonl"
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DeliveryError(f"无法写入通知文件：{exc}"[:400], retryable=True) from exc


ADAPTERS: dict[str, ChannelAdapter] = {
    "email": EmailChannel(),
    "sms": SmsChannel(),
    "file": FileChannel(),
}


def adapter_for(channel: str) -> ChannelAdapter:
    return ADAPTERS[channel]
