"""Issue #10, item 8: secrets at rest and in the demo.

Every private key is encrypted under a password that is not derived from a public default;
the demo generates its SECRET_KEY and key passwords into a 0600 file; demo tokens and one-time
code secrets cannot be computed from a published default; production refuses missing key
passwords.
"""

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from shared.access import keys as access_keys
from shared.conf.env import INSECURE_SECRET_PREFIX, ImproperlyConfiguredError
from shared.conf.production import check_production_settings
from shared.crypto.suites import get_suite, private_key_from_pem, private_key_to_pem
from shared.demo import data as demo_data
from shared.demo import seed as core_demo

ROOT = Path(__file__).resolve().parents[3]
PUBLIC_DEFAULT = INSECURE_SECRET_PREFIX + "change-me-in-production"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load_demo_module():
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "deploy" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the access-log signing key -------------------------------------------------------------


def test_access_log_key_is_created_encrypted_and_private(settings, tmp_path):
    settings.ACCESS_LOG_KEY_FILE = str(tmp_path / "keys" / "access-log.pem")
    settings.ACCESS_LOG_KEY_PASSWORD = "p" * 40
    key_id = access_keys.log_key_id()
    path = Path(settings.ACCESS_LOG_KEY_FILE)
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    with pytest.raises(Exception):  # noqa: B017 - whatever the suite raises: it must not load
        private_key_from_pem(pem, None)
    gm = get_suite("gm")
    key = private_key_from_pem(pem, b"p" * 40)
    assert gm.key_id(gm.public_key_of(key)) == key_id


def test_access_log_key_password_is_required_to_read_the_key(settings, tmp_path):
    settings.ACCESS_LOG_KEY_FILE = str(tmp_path / "access-log.pem")
    settings.ACCESS_LOG_KEY_PASSWORD = "a" * 40
    access_keys.log_signing_key()
    settings.ACCESS_LOG_KEY_PASSWORD = "b" * 40
    with pytest.raises(Exception):  # noqa: B017
        access_keys.log_signing_key()


def test_a_plain_access_log_key_from_an_older_version_is_encrypted_in_place(settings, tmp_path):
    gm = get_suite("gm")
    plain_key = gm.generate_key()
    path = tmp_path / "legacy.pem"
    path.write_bytes(private_key_to_pem(plain_key, None))
    path.chmod(0o644)
    settings.ACCESS_LOG_KEY_FILE = str(path)
    settings.ACCESS_LOG_KEY_PASSWORD = "m" * 40
    # Same key (checkpoints already signed keep verifying), now encrypted and 0600.
    assert access_keys.log_key_id() == gm.key_id(gm.public_key_of(plain_key))
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert mode(path) == 0o600
    assert gm.key_id(
        gm.public_key_of(private_key_from_pem(path.read_bytes(), b"m" * 40))
    ) == gm.key_id(gm.public_key_of(plain_key))


# --- production refuses development key passwords ------------------------------------------


def production_settings(**overrides):
    good = {
        "SECRET_KEY": "s" * 50,
        "DEBUG": False,
        "ALLOWED_HOSTS": ["hub.example.gov.cn"],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql"}},
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
        "HOLDER_CODE_KEY": "h" * 40,
        "ACCESS_LOG_ENABLED": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 86400,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "FILES_KEY_PASSWORD": "f" * 40,
        "FEDERATION_KEY_PASSWORD": "e" * 40,
        "ACCESS_LOG_KEY_PASSWORD": "a" * 40,
        "METRICS_TOKEN": "m" * 40,
    }
    return good | overrides


def test_production_accepts_its_own_key_passwords():
    check_production_settings(production_settings())


@pytest.mark.parametrize(
    "name", ["FILES_KEY_PASSWORD", "FEDERATION_KEY_PASSWORD", "ACCESS_LOG_KEY_PASSWORD"]
)
@pytest.mark.parametrize(
    "value", ["", INSECURE_SECRET_PREFIX + "x" * 40, "short", "SECRET"], ids=str
)
def test_production_refuses_a_missing_default_or_shared_key_password(name, value):
    settings = production_settings()
    settings[name] = settings["SECRET_KEY"] if value == "SECRET" else value
    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings(settings)
    assert name in str(refused.value)


@pytest.mark.parametrize("value", ["", INSECURE_SECRET_PREFIX + "x" * 40, "short"], ids=str)
def test_production_refuses_a_missing_or_weak_metrics_token(value):
    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings(production_settings(METRICS_TOKEN=value))
    assert str(refused.value) == (
        "METRICS_TOKEN must be set to a random value of at least 32 characters"
    )


# --- demo tokens and one-time-code secrets -------------------------------------------------


def public_derivation(username_or_label: str, code: str) -> bytes:
    """What anyone could compute when demo secrets derived from the published SECRET_KEY."""
    return hmac.new(
        PUBLIC_DEFAULT.encode(), f"demo:{code}:{username_or_label}".encode(), hashlib.sha256
    ).digest()


@pytest.mark.django_db
def test_demo_credentials_are_not_derivable_from_the_public_default(
    settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    settings.SECRET_KEY = PUBLIC_DEFAULT
    path = tmp_path / "creds" / "credentials.json"
    call_command("seed_demo", credentials=str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert mode(path) == 0o600
    code = settings.LIBRARY_CODE
    for role in ("issuer", "consumer", "admin"):
        guessed = "elc_demo_" + public_derivation(doc[role]["username"], code).hex()[:40]
        assert doc[role]["token"] != guessed
    guessed_totp = base64.b32encode(public_derivation("holder-totp", code)[:20]).decode()
    assert doc["holder"]["totp_secret"] != guessed_totp.rstrip("=")
    # The key they derive from is random, kept 0600 beside the library's data, and reused.
    seed_file = tmp_path / "var" / "keys" / f"demo-seed-{code}.key"
    assert mode(seed_file) == 0o600
    assert demo_data.demo_seed_key() == seed_file.read_text().strip().encode()
    assert len(seed_file.read_text().strip()) == 64
    assert core_demo._demo_secret(doc["admin"]["username"]) == doc["admin"]["token"]


def test_demo_secrets_derive_from_a_real_secret_key(settings):
    settings.SECRET_KEY = "r" * 64
    assert demo_data.demo_seed_key() == b"r" * 64


# --- the demo's generated secrets -----------------------------------------------------------


def test_demo_generates_secrets_once_into_a_private_file(tmp_path):
    demo = load_demo_module()
    libs = demo.libraries()
    root = tmp_path / "demo"
    root.mkdir()
    first = demo.load_secrets(root, libs)
    path = root / "secrets.json"
    assert mode(path) == 0o600
    assert set(first) == {"hub", "410100", "410300"}
    values = [v for lib in first.values() for v in lib.values()]
    assert len(set(values)) == len(values) == 18  # every secret of every library differs
    for lib in first.values():
        assert set(lib) == set(demo.SECRET_NAMES)
        assert all(len(v) >= 40 and not v.startswith(INSECURE_SECRET_PREFIX) for v in lib.values())
    assert demo.load_secrets(root, libs) == first  # reused on later starts

    env = demo.Demo(var_root=root, logs=root, secrets=first).env_for(libs[1])
    for name in demo.SECRET_NAMES:
        assert env[name] == first["410100"][name]
    assert env["DEBUG"] == "0"
    assert env["FILES_PKI_AUTO_INIT"] == "0"


def test_demo_refuses_a_data_directory_made_with_public_default_keys(tmp_path):
    demo = load_demo_module()
    root = tmp_path / "demo"
    (root / "hub").mkdir(parents=True)
    (root / "hub" / "hub.sqlite3").write_bytes(b"")
    with pytest.raises(RuntimeError, match="make clean"):
        demo.load_secrets(root, demo.libraries())
    assert not (root / "secrets.json").exists()


def test_demo_env_prints_the_exports_for_manage_py(tmp_path):
    demo = load_demo_module()
    root = tmp_path / "demo"
    root.mkdir()
    generated = demo.load_secrets(root, demo.libraries())
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"DEMO_DIR": str(root)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "demo.py"), "env", "hub"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    assert lines["SECRET_KEY"] == generated["hub"]["SECRET_KEY"]
    assert lines["FEDERATION_KEY_PASSWORD"] == generated["hub"]["FEDERATION_KEY_PASSWORD"]
    assert lines["VAR_DIR"] == str(root / "hub")
    assert lines["REDIS_URL"].startswith("'redis+socket://")
    assert "NODE_CODE" not in lines


def test_a_new_var_dir_is_private(tmp_path, monkeypatch):
    from shared.conf.env import var_dir

    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    assert mode(var_dir()) == 0o700
