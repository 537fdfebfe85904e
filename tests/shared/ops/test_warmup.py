"""Each tier's WSGI module imports the URLconf (and so every view) when it is loaded, before
any request: a gunicorn worker's first request after a start no longer pays for it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import sys
import {tier}.wsgi
from django.conf import settings
print(settings.ROOT_URLCONF in sys.modules, "openpyxl" in sys.modules, file=sys.stdout)
"""


@pytest.mark.parametrize(("tier", "code"), [("municipal_node", "410300"), ("provincial_hub", "")])
def test_loading_the_wsgi_module_imports_the_views(tier, code, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env.update(
        DJANGO_ENV="local", LOG_FORMAT="json", LOG_LEVEL="INFO", PYTHONPATH=str(ROOT),
        VAR_DIR=str(tmp_path), **({"NODE_CODE": code} if code else {}),
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(tier=tier)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # the URLconf, and a library only a view imports (spreadsheet uploads)
    assert done.stdout.split() == ["True", "True"], done.stderr
    [warmed] = [json.loads(line) for line in done.stderr.splitlines() if "web.warmed_up" in line]
    assert warmed["url_patterns"] > 0
