"""Deployment identity, production safety, and the operational endpoints."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_manage(tier, *args, **env):
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ENV", "DATABASE_URL", "REDIS_URL")
    }
    full_env.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), tier, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        cwd=ROOT,
    )


def test_node_refuses_an_unknown_city(tmp_path):
    result = run_manage("node", "check", NODE_CODE="410000", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "NODE_CODE='410000'" in result.stderr


def test_node_accepts_jiyuan(tmp_path):
    result = run_manage("node", "check", NODE_CODE="419001", VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_production_refuses_insecure_defaults(tmp_path):
    result = run_manage(
        "hub", "check", DJANGO_ENV="production", VAR_DIR=str(tmp_path), SECRET_KEY=""
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def test_production_starts_with_real_settings(tmp_path):
    result = run_manage(
        "hub",
        "check",
        "--deploy",
        DJANGO_ENV="production",
        VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="hub.example.gov.cn",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/elicense_hub",
        REDIS_URL="redis://127.0.0.1:6379/14",
        HOLDER_CODE_KEY="k" * 40,
        FILES_KEY_PASSWORD="f" * 40,
        FEDERATION_KEY_PASSWORD="e" * 40,
        ACCESS_LOG_KEY_PASSWORD="a" * 40,
        METRICS_TOKEN="m" * 40,
    )
    assert result.returncode == 0, result.stderr


def test_manage_without_tier_prints_usage():
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "hub|node" in result.stderr


@pytest.mark.django_db
def test_healthz_and_readyz(client, settings):
    assert client.get("/healthz").json() == {"status": "ok", "tier": "node"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "broker": "ok",
        "signing": "ok",
    }
    assert ready.json()["library_code"] == settings.NODE_CODE


@pytest.mark.django_db
def test_openapi_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/licenses/", "/api/v1/catalog/types/", "/api/v1/licenses/batches/"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "https://" not in html and "http://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_workers_keep_database_connections_across_tasks(settings, db):
    """Celery's Django fixup closes every connection around each task unless CELERY_DB_REUSE_MAX
    is set (each signing task then paid for a new PostgreSQL connection); with it set, our
    handlers apply Django's per-request rules and leave an eager task's caller alone."""
    from types import SimpleNamespace

    from django.db import connection

    from municipal_node.celery import app
    from shared.core import tasks_db

    assert app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX >= 100
    connection.ensure_connection()
    raw = connection.connection
    tasks_db._close_old(SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert connection.connection is raw and not connection.closed_in_transaction
    with connection.cursor() as cursor:  # the caller's transaction goes on
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
