"""The demo seeds a licence expiring in 30 days for its holder; its reminder is queued once
(seeding twice queues nothing more) and lands in the mailbox of a real SMTP server."""

import json

from django.core.management import call_command

from shared.notifications.models import Notification
from shared.notifications.services import notification_sweep


def test_demo_seed_queues_the_expiry_reminder_once(db, tmp_path, smtp, mails, settings):
    # given the demo's channels (e-mail and file)
    settings.NOTIFY_CHANNELS = ["email", "file"]
    # when the demo is seeded twice and the outbox swept
    call_command("seed_demo", credentials=str(tmp_path / "a.json"))
    first = Notification.objects.filter(event="licence.expiring").count()
    call_command("seed_demo", credentials=str(tmp_path / "b.json"))
    swept = notification_sweep()
    # then the holder and the issuing agency's staff got one reminder each: by e-mail where
    # the demo gave them an address (the holder, the issuer's clerk), by file for everyone
    holder = json.loads((tmp_path / "a.json").read_text())["holder"]["username"]
    rows = Notification.objects.filter(event="licence.expiring")
    assert first == 6
    assert sorted((r.channel, r.user.username) for r in rows) == sorted(
        [("email", holder), ("email", "c410100_scj_1"), ("file", holder)]
        + [("file", f"c410100_scj_{n}") for n in ("1", "2", "admin")]
    )
    assert swept.delivered >= 6
    reminders = [m for m in mails() if m["Subject"] == "电子证照将于 30 天后到期"]
    assert sorted(m["To"] for m in reminders) == sorted(
        [f"{holder}@demo.elicense.local", "c410100_scj_1@demo.elicense.local"]
    )
