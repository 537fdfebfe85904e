"""Fixtures for notifications: a real local SMTP server (aiosmtpd writing a Maildir), the
reference SMS gateway, the file channel in a temporary folder, a holder and issuer staff."""

from pathlib import Path

import pytest

from shared.access.portal import holder_create
from shared.notifications.mailbox import MailboxServer, _free_port, mailbox_messages
from shared.notifications.models import Contact
from shared.notifications.sms_reference import ReferenceSmsGateway

HOLDER_CODE = "91410100MA3X7Y8L"  # replaced by the issue payload's code in `holder`


@pytest.fixture(autouse=True)
def notify_settings(settings, tmp_path):
    settings.NOTIFY_CHANNELS = ["email", "sms", "file"]
    settings.NOTIFY_FILE_DIR = str(tmp_path / "notify-files")
    settings.NOTIFY_SMS_URL = "http://127.0.0.1:9/"  # a gateway that is configured, not up
    settings.NOTIFY_RETRY_BASE_SECONDS = 1
    settings.NOTIFY_MAX_ATTEMPTS = 5
    settings.NOTIFY_SEND_TIMEOUT = 5
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port("127.0.0.1")  # nothing listens until `smtp` starts
    return settings


@pytest.fixture
def mailbox_dir(tmp_path) -> Path:
    return tmp_path / "mailbox"


@pytest.fixture
def smtp(notify_settings, mailbox_dir):
    with MailboxServer(mailbox_dir, port=notify_settings.EMAIL_PORT) as server:
        yield server


@pytest.fixture
def mails(mailbox_dir):
    return lambda: mailbox_messages(mailbox_dir)


@pytest.fixture
def sms_gateway(notify_settings):
    with ReferenceSmsGateway(token="sms-secret") as gateway:
        notify_settings.NOTIFY_SMS_URL = gateway.url
        notify_settings.NOTIFY_SMS_TOKEN = "sms-secret"
        yield gateway


@pytest.fixture
def holder_code(issue_payload):
    return issue_payload()["holder"]["code"]


@pytest.fixture
def holder(db, holder_code):
    user, _ = holder_create(
        username="holder_yz",
        password="Holder-12345",
        display_name="豫中食品",
        holder_code=holder_code,
        holder_code_type="001",
    )
    user.email = "holder@example.cn"
    user.save(update_fields=["email"])
    Contact.objects.create(user=user, phone="13800000001")
    return user


@pytest.fixture
def staff_with_email(issuer_user):
    issuer_user.email = "issuer@example.cn"
    issuer_user.save(update_fields=["email"])
    return issuer_user
