"""Structured log lines (shared.ops.logs): their shape, the request id of an HTTP request, and
the same id on the lines of a task that request queued, run by a real Celery worker."""

import json
import logging
import re
import time
from datetime import UTC, datetime

import pytest
import structlog
from django.conf import settings
from django.test import Client

from shared.audit.context import request_id_bound
from shared.conf.env import ImproperlyConfiguredError
from shared.conf.logs import logging_config
from shared.conf.production import production_logging
from tests.log_capture import captured, fresh_process_lines

FIRST = ["timestamp", "level", "logger", "event", "request_id", "library"]


def test_a_json_line_has_the_fields_in_order_for_structlog_and_stdlib_records():
    # given: a line from a structlog logger and one from a standard-library logger (as Django,
    # Celery and gunicorn write them), inside a request's id
    with captured() as lines, request_id_bound("counter-zz-0001"):
        structlog.get_logger("shared.federation.relay").info("exchange.test", seq=7, 名称="证照")
        logging.getLogger("django.request").warning("Not Found: %s", "/x", extra={"status": 404})
    # then: one JSON object per line, the common fields first, then the event's own
    first, second = lines.parsed()
    assert list(first) == [*FIRST, "seq", "名称"]
    assert first["level"] == "info" and first["logger"] == "shared.federation.relay"
    assert (first["event"], first["seq"], first["名称"]) == ("exchange.test", 7, "证照")
    assert (first["request_id"], first["library"]) == ("counter-zz-0001", settings.LIBRARY_CODE)
    assert list(second) == [*FIRST, "status"]
    assert (second["level"], second["logger"], second["event"]) == (
        "warning",
        "django.request",
        "Not Found: /x",
    )
    assert second["request_id"] == "counter-zz-0001" and second["status"] == 404
    # Chinese is written as itself, not as \\u escapes
    assert "证照" in lines.text and "\\u" not in lines.text
    # ISO 8601 in UTC
    stamp = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert first["timestamp"].endswith("Z") and stamp.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_outside_a_request_the_id_is_null_and_a_traceback_is_one_field():
    with captured() as lines:
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("shared.test").exception("failed")
    [line] = lines.parsed()
    assert line["request_id"] is None
    assert line["exception"].startswith("Traceback (most recent call last)")
    assert "KeyError: 'missing'" in line["exception"]


def test_the_console_format_is_text_with_a_plain_traceback():
    with captured("console") as lines, request_id_bound("abc-1"):
        try:
            raise ValueError("secret-local-stays-out")
        except ValueError:
            structlog.get_logger("shared.test").exception("failed", seq=3)
    first = lines.text.splitlines()[0]
    assert "[error" in first and "failed" in first
    assert "request_id=abc-1" in first and "seq=3" in first
    # Python's own traceback, not one that prints local variables
    assert "Traceback (most recent call last)" in lines.text and "locals" not in lines.text


def test_settings_send_every_record_through_the_structured_formatter(monkeypatch):
    assert settings.LOGGING["formatters"]["structured"]["()"] == "shared.ops.logs.formatter"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "structured"
    assert settings.LOGGING["root"]["handlers"] == ["console"]
    # production: JSON lines unless LOG_FORMAT says otherwise
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "warning")
    production = production_logging()
    assert production["LOG_FORMAT"] == "json"
    assert production["LOGGING"]["formatters"]["structured"]["fmt"] == "json"
    assert production["LOGGING"]["root"]["level"] == "WARNING"
    monkeypatch.setenv("LOG_FORMAT", "console")
    assert production_logging()["LOGGING"]["formatters"]["structured"]["fmt"] == "console"


def test_an_unknown_format_refuses_to_start():
    with pytest.raises(ImproperlyConfiguredError, match="LOG_FORMAT"):
        logging_config(fmt="xml", level="INFO")


def test_below_the_level_nothing_is_written():
    with captured(level=logging.WARNING) as lines:
        structlog.get_logger("shared.test").info("quiet")
        structlog.get_logger("shared.test").warning("loud")
    assert [line["event"] for line in lines.parsed()] == ["loud"]


@pytest.mark.django_db
def test_a_request_keeps_a_plain_id_and_logs_one_line_with_it():
    # given: a caller's own plain X-Request-ID
    with captured() as lines:
        response = Client().get("/healthz", HTTP_X_REQUEST_ID="counter-zz-0001")
    # then: answered in the same header, and on the request's line with method, path, status
    assert response["X-Request-ID"] == "counter-zz-0001"
    [line] = lines.events("http.request")
    assert line["request_id"] == "counter-zz-0001"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 10_000
    assert line["library"] == settings.LIBRARY_CODE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given",
    ["x" * 65, "has space", "=cmd|' /C calc'!A0", "-leading-dash", "中文编号", ""],
)
def test_an_id_that_is_not_plain_is_replaced_by_a_new_one(given):
    with captured() as lines:
        response = Client().get("/healthz", HTTP_X_REQUEST_ID=given)
    answered = response["X-Request-ID"]
    assert answered != given and re.fullmatch(r"[0-9a-f]{32}", answered)
    [line] = lines.events("http.request")
    assert line["request_id"] == answered


@pytest.mark.django_db
def test_an_error_answer_is_logged_with_its_status():
    with captured() as lines:
        response = Client().get("/api/v1/licenses/", HTTP_X_REQUEST_ID="anon-1")
    assert response.status_code == 401
    [line] = lines.events("http.request")
    assert (line["status"], line["request_id"]) == (401, "anon-1")


@pytest.fixture
def default_worker():
    from celery.contrib.testing.worker import start_worker

    from municipal_node.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"]) as worker:
        yield worker


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_by_a_request_logs_that_requests_id_in_the_worker(
    default_worker, issuer, issue_payload
):
    # given: a real worker on the Redis broker; when: a counter issues a licence with its id
    # (the commit queues the outbox relay)
    with captured() as lines:
        response = issuer.post(
            "/api/v1/licenses/", issue_payload(), format="json", HTTP_X_REQUEST_ID="counter-zz-0002"
        )
        assert response.status_code == 201, response.content
        _wait_for(lines, "federation.relay_stream", "counter-zz-0002")
        # a task queued outside any request carries no id
        from shared.federation.tasks import relay_sweep

        relay_sweep.delay()
        _wait_for(lines, "federation.relay_sweep", None)
    # then: the worker's lines of that task carry the request's id, the task's name and id;
    # every task's lines carry one id (a relay queued earlier, by the fixtures' catalogue
    # change made outside a request, carries none)
    ids_by_task = {}
    for line in _task_lines(lines, "federation.relay_stream"):
        assert re.fullmatch(r"[0-9a-f-]{36}", line["task_id"])
        ids_by_task.setdefault(line["task_id"], set()).add(line["request_id"])
    assert {"counter-zz-0002"} in ids_by_task.values(), lines.text
    assert all(len(ids) == 1 for ids in ids_by_task.values()), ids_by_task
    swept = _task_lines(lines, "federation.relay_sweep")
    assert {line["request_id"] for line in swept} == {None}


def _wait_for(lines, task, request_id, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(line["request_id"] == request_id for line in _task_lines(lines, task)):
            return
        time.sleep(0.1)
    raise AssertionError(f"no line of {task} with {request_id}: {lines.text}")


def _task_lines(lines, name):
    return [line for line in lines.parsed() if line.get("task") == name]


def test_the_formatter_is_what_a_json_line_parser_reads():
    """Each record is exactly one line: a message with newlines stays inside its JSON string."""
    with captured() as lines:
        structlog.get_logger("shared.test").info("two\nlines")
    [raw] = lines.text.splitlines()
    assert json.loads(raw)["event"] == "two\nlines"


def test_a_python_warning_is_a_json_line_too():
    """A library's warning (cryptography ≥ 51 warns when pyHanko imports DSA, while the apps
    load) comes out through the formatter, not as plain text among the JSON lines."""
    script = "import django, warnings; django.setup(); warnings.warn('库的提醒 library says', UserWarning)"
    _, lines = fresh_process_lines(
        script, DJANGO_SETTINGS_MODULE="municipal_node.settings", NODE_CODE="410300"
    )
    [warned] = [line for line in lines if "library says" in line["event"]]
    assert (warned["logger"], warned["level"]) == ("py.warnings", "warning")
    assert "UserWarning: 库的提醒 library says" in warned["event"]
