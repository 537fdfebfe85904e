"""deploy/prometheus/alerts.yml: well formed, accepted by promtool, each alert firing in its
unit tests (alerts_test.yml) when it should and not before, and every expression names a
metric that GET /metrics really exports (scraped here, with rows so every family has a sample)
or `up`, the series Prometheus itself records for every scrape."""

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from shared.access.models import Checkpoint
from shared.federation.models import InboundCursor, OutboxEvent, Peer, ReconcileRun, RejectedEvent
from tests.shared.inspections.conftest import issue

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
ALERTS = RULES / "alerts.yml"
METRIC_NAME = re.compile(r"\belicense_[a-z_]+\b")
SCRAPE_HEALTH = re.compile(r"^up\{")


def load_rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_are_well_formed():
    rules = load_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) == 18
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert METRIC_NAME.search(rule["expr"]) or SCRAPE_HEALTH.match(rule["expr"]), rule["alert"]


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    assert binary, "promtool is installed by deploy/system-packages.sh (Debian package prometheus)"
    return subprocess.run(  # noqa: S603 - a fixed tool on our own files
        [binary, *args], capture_output=True, text=True, timeout=120, cwd=RULES
    )


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 18 rules found" in result.stdout


def test_every_new_alert_fires_in_its_unit_test_and_not_before(tmp_path):
    # alerts_test.yml names every alert added with the reconciliation, signing, deadline and
    # scrape metrics, each with an evaluation before its `for:` ends (no alert) and after
    tested = {
        case["alertname"]
        for group in yaml.safe_load((RULES / "alerts_test.yml").read_text())["tests"]
        for case in group["alert_rule_test"]
    }
    assert tested == {rule["alert"] for rule in load_rules()[7:]}
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr

    # a threshold changed under the tests is caught
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text().replace("> 1000", "> 2000"))
    (tmp_path / "alerts_test.yml").write_text((RULES / "alerts_test.yml").read_text())
    binary = shutil.which("promtool")
    assert binary
    broken = subprocess.run(  # noqa: S603 - a fixed tool on our own files
        [binary, "test", "rules", "alerts_test.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert broken.returncode == 1
    assert "SigningQueueHigh" in broken.stdout + broken.stderr


@pytest.mark.django_db
def test_every_alert_names_an_exported_metric(client, issuer_user, license_type):
    # given: a row behind every family (the licence's file waits to be signed)
    issue(issuer_user, license_type, number="JY1410100ALERTS01")
    Peer.objects.create(code=settings.FEDERATION_HUB_CODE, kid="k", public_pem="p")
    ReconcileRun.objects.create(
        scope=settings.LIBRARY_CODE,
        peer=settings.FEDERATION_HUB_CODE,
        state="done",
        finished_at=timezone.now(),
    )
    OutboxEvent.objects.create(stream="410100", seq=1, kind="k", key="k", payload={})
    OutboxEvent.objects.create(stream="410100", seq=2, kind="k", key="k", payload={}, state="dead")
    RejectedEvent.objects.create(
        sender="410100", seq=1, kind="k", key="k", error_code="e", error_message="m", payload={}
    )
    Checkpoint.objects.create(
        tree_size=1,
        root_hash="r",
        head_hash="h",
        library_code=settings.LIBRARY_CODE,
        signed_at=timezone.now() - timedelta(minutes=1),
        key_id="k",
        public_key="p",
        signature="s",
    )
    InboundCursor.objects.create(sender="410100", backlog=1, last_envelope_at=timezone.now())

    # when
    text = client.get("/metrics").content.decode()
    exported = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }

    # then
    used = {name for rule in load_rules() for name in METRIC_NAME.findall(rule["expr"])}
    assert used <= exported, used - exported
    assert len(used) == 16
