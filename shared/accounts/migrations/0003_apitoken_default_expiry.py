"""Tokens issued before every token had an expiry get one: API_TOKEN_DEFAULT_DAYS from now, so
an integration that used one has that long to take a new token (issue #10)."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def give_expiry(apps, schema_editor):  # type: ignore[no-untyped-def]
    ApiToken = apps.get_model("accounts", "ApiToken")
    expires_at = timezone.now() + timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)
    ApiToken.objects.filter(expires_at__isnull=True).update(expires_at=expires_at)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_user_holder_code_digest_user_holder_code_enc_and_more")]

    operations = [migrations.RunPython(give_expiry, migrations.RunPython.noop)]
