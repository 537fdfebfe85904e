"""Reads for the holder portal's watch page."""

from django.conf import settings
from django.db.models import QuerySet

from shared.accounts.models import User
from shared.core.holder_codes import holder_digests_of
from shared.watch.models import Watch, WatchAlert


def holder_watch(*, holder: User) -> Watch | None:
    """The holder's active watch here, if any (one per identity and library)."""
    if not holder.is_holder or not holder.holder_code_digest:
        return None
    return Watch.objects.filter(
        home_library=_here(),
        holder_code_digest__in=holder_digests_of(holder),  # either version during a rotation
        holder_code_type=holder.holder_code_type,
        state=Watch.State.ACTIVE,
    ).first()


def holder_alerts(*, holder: User) -> QuerySet[WatchAlert]:
    """Every alert about the holder's identity here, newest first (a cancelled watch's too)."""
    if not holder.is_holder or not holder.holder_code_digest:
        return WatchAlert.objects.none()
    return WatchAlert.objects.filter(
        watch__home_library=_here(),
        watch__holder_code_digest__in=holder_digests_of(holder),
        watch__holder_code_type=holder.holder_code_type,
    ).order_by("-occurred_at", "-id")


def _here() -> str:
    return str(settings.LIBRARY_CODE)
