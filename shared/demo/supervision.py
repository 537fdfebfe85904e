"""Demo data for supervision (issue #12): the provincial management unit's supervisor
(省发展改革委, art. 6, 31), at the hub only; the notices are the hub's own seeding step
(`hub compliance demo`, run by deploy/demo.py), as shared code never imports a tier."""

from collections.abc import Callable
from typing import Any

from shared.accounts.models import Agency, User
from shared.core.tier import is_hub
from shared.demo.console import seed_console_demo


def supervisor_credentials(
    *,
    user: Callable[[str, Agency | None, str, str], User],
    token: Callable[[User], str],
) -> dict[str, Any]:
    """`{"supervisor": {"token", "username", "totp_secret", …}}` at the hub (the TOTP secret
    signs the supervisor in to the console: `deploy/demo.py code hub hub_supervisor`), nothing
    at a city node."""
    if not is_hub():
        return {}
    supervisor = user("hub_supervisor", None, User.Role.SUPERVISOR, "省发展改革委监管人员")
    [console] = seed_console_demo([supervisor])["users"]
    return {"supervisor": {**console, "token": token(supervisor)}}
