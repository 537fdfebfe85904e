"""A counter's request followed across libraries in the real processes' logs: issued at 郑州
with its X-Request-ID, the id is on 郑州's request line and relay task, on the hub's ingest line
and back on 郑州's acknowledgement line; a licence the hub issues for a 郑州 holder is followed
the other way (hub → node). The flows' libraries write JSON lines (LOG_FORMAT=json, LOG_LEVEL=INFO)."""

import json
import uuid

import requests

from tests.federation.fedlib import auth, item, surface_fields
from tests.federation.harness import Library, wait_until


def lines(lib: Library, role: str) -> list[dict]:
    """The log lines of a process that are records (a worker also prints Celery's start-up
    banner to stdout, which is not a log record)."""
    return [json.loads(line) for line in lib.log(role).splitlines() if line.startswith("{")]


def carrying(lib: Library, role: str, event: str, request_id: str) -> list[dict]:
    return [
        line
        for line in lines(lib, role)
        if line["event"] == event and request_id in (line.get("request_ids") or ())
    ]


def issue(lib: Library, number: int, request_id: str) -> str:
    creds = lib.credentials()["issuer"]
    response = requests.post(
        f"{lib.url}/api/v1/licenses/",
        json=item(lib, surface_fields(lib), number),
        headers=auth(creds["token"]) | {"X-Request-ID": request_id},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id
    return response.json()["identifier"]


def test_a_counters_request_id_is_found_at_the_hub_and_back(federation):
    hub, node = federation["hub"], federation["410100"]
    # the flows' earlier tests wrote to these logs too: the shape is checked on this test's part
    start = {lib.name: len(lib.log("web")) for lib in (hub, node)}
    # when: a counter at 郑州 issues a licence with its own request id
    up = f"zz-ck3-{uuid.uuid4().hex[:12]}"
    ident = issue(node, 9001, up)
    wait_until(lambda: hub.count("identifier = %s", (ident,)) == 1, message="licence at hub")
    # then: 郑州's web line of the request, and its worker's lines of the relay it queued
    [call] = [line for line in lines(node, "web") if line["request_id"] == up]
    assert (call["event"], call["method"], call["status"], call["library"]) == (
        "http.request",
        "POST",
        201,
        "410100",
    )
    # the hub's ingest line names it (in the hub's web process: envelopes arrive over HTTP)
    wait_until(lambda: carrying(hub, "web", "exchange.envelope_received", up), message="hub's line")
    # (one envelope or two: the file's announcement may follow the licence's event later)
    received, *_ = carrying(hub, "web", "exchange.envelope_received", up)
    assert (received["sender"], received["library"], received["level"]) == (
        "410100",
        "410000",
        "info",
    )
    # the ingest call's own request line at the hub shares the ingest line's request id
    assert any(
        line["event"] == "http.request" and line["request_id"] == received["request_id"]
        for line in lines(hub, "web")
    )
    # and 郑州's relay logs the hub's acknowledgement carrying it back
    wait_until(
        lambda: carrying(node, "worker", "exchange.envelope_acknowledged", up),
        message="郑州's ack line",
    )
    acked, *_ = carrying(node, "worker", "exchange.envelope_acknowledged", up)
    assert acked["stream"] == "410000" and acked["library"] == "410100"
    assert acked["task"] == "federation.relay_stream"

    # the licence's event, and what the signing task the request queued wrote in turn (the
    # file's announcement; the keys made on first use): the task carries the request's id
    # into its own outbox rows
    def rows():
        return node.sql(
            "SELECT kind, state FROM federation_outboxevent WHERE request_id = %s ORDER BY seq",
            (up,),
        )

    wait_until(
        lambda: len(rows()) > 1 and {state for _, state in rows()} == {"acknowledged"},
        message=f"the request's rows acknowledged: {rows()}",
    )
    kinds = [kind for kind, _ in rows()]
    assert kinds[0] == "license.event" and "file.ready" in kinds, kinds

    # the other way: the hub issues for a 郑州 holder, the licence is pushed down to 郑州
    down = f"hub-ck1-{uuid.uuid4().hex[:12]}"
    pushed = issue(hub, 9002, down)
    wait_until(lambda: node.count("identifier = %s", (pushed,)) == 1, message="licence at 郑州")
    wait_until(
        lambda: carrying(node, "web", "exchange.envelope_received", down), message="郑州's line"
    )
    wait_until(
        lambda: carrying(hub, "worker", "exchange.envelope_acknowledged", down),
        message="hub's ack line",
    )
    # every record of every process is a JSON line of the one shape; the web servers write
    # nothing else (gunicorn's own lines included)
    for lib in (hub, node):
        written = lib.log("web")[start[lib.name] :].splitlines()[1:]  # [0]: maybe a line's end
        assert written and all(line.startswith("{") for line in written), lib.name
        for role in ("web", "worker"):
            assert all(
                list(line)[:6] == ["timestamp", "level", "logger", "event", "request_id", "library"]
                for line in lines(lib, role)
            ), (lib.name, role)
