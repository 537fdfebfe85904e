"""deploy/prometheus/alerts.yml: well formed, and every expression names a metric that
GET /metrics really exports (scraped here, with rows so every family has a sample)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from shared.access.models import Checkpoint
from shared.federation.models import InboundCursor, OutboxEvent, RejectedEvent

ALERTS = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\belicense_[a-z_]+\b")


def load_rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_are_well_formed():
    rules = load_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) == 7
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert METRIC_NAME.search(rule["expr"]), rule["alert"]


@pytest.mark.django_db
def test_every_alert_names_an_exported_metric(client):
    # given: a row behind every family
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
    assert len(used) == 7
