"""Each tier's WSGI module imports the URLconf (and so every view) when it is loaded, before
any request: a gunicorn worker's first request after a start no longer pays for it."""

import pytest

from tests.log_capture import fresh_process_lines

PROBE = """
import gc
import sys
import {tier}.wsgi
from django.conf import settings
print(settings.ROOT_URLCONF in sys.modules, "openpyxl" in sys.modules, gc.get_freeze_count())
"""


@pytest.mark.parametrize(("tier", "code"), [("municipal_node", "410300"), ("provincial_hub", "")])
def test_loading_the_wsgi_module_imports_the_views(tier, code, tmp_path):
    out, lines = fresh_process_lines(
        PROBE.format(tier=tier), VAR_DIR=str(tmp_path), **({"NODE_CODE": code} if code else {})
    )
    # the URLconf, and a library only a view imports (spreadsheet uploads)
    loaded, spreadsheets, frozen = out.split()
    assert (loaded, spreadsheets) == ("True", "True")
    [warmed] = [line for line in lines if line["event"] == "web.warmed_up"]
    assert warmed["url_patterns"] > 0
    # what the application loaded is kept out of later full collections (shared.core.gc_pause)
    assert warmed["frozen_objects"] > 100_000 and int(frozen) > 100_000
