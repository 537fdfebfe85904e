"""The demo hands the reference identity provider its random client secret in a form argparse
cannot mistake for an option: `secrets.token_urlsafe` starts with "-" once in 64 starts, and the
provider then exited at once, was restarted in vain, and the demo stopped (bench/soak, 2026-12-05)."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.identity.reference_provider import arguments

LAUNCHER = Path(__file__).resolve().parents[2] / "deploy" / "demo.py"


def launcher():
    spec = importlib.util.spec_from_file_location("demo_launcher", LAUNCHER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("secret", ["-leading-dash_Xy", "--looks-like-an-option", "plain_Xy-9"])
def test_the_idp_gets_the_client_secret_whatever_it_starts_with(tmp_path, secret):
    demo = launcher()
    state = SimpleNamespace(oidc_secret=secret, logs=tmp_path)
    idp = demo.idp_process(state, [{"port": "18001"}, {"port": "18002"}])
    after_module = idp.command[idp.command.index("shared.identity.reference_provider") + 1 :]
    args = arguments(after_module)
    assert args.client_secret == secret
    assert args.redirect_uri == [
        "http://127.0.0.1:18001/holder/oidc/callback/",
        "http://127.0.0.1:18002/holder/oidc/callback/",
    ]
