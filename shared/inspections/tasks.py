"""Thin Celery tasks: call one service, safe to run twice."""

from celery import shared_task

from shared.inspections.suspension import inspection_close_windows


@shared_task(name="inspections.close_window")
def close_window() -> int:
    """Beat, daily: suspend the licences not inspected when their window closed."""
    return inspection_close_windows()
