#!/usr/bin/env python
"""One manage.py, two deployments.

`python manage.py hub <command>` runs a command against the provincial hub, and
`python manage.py node <command>` against a municipal node (the city comes from NODE_CODE).
"""

import os
import sys

TIERS = {
    "hub": "provincial_hub.settings",
    "node": "municipal_node.settings",
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TIERS:
        sys.stderr.write(
            "用法: python manage.py hub|node <command> [options]\n"
            "usage: python manage.py hub|node <command> [options]\n"
        )
        sys.exit(2)
    tier = sys.argv.pop(1)
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get(
        f"{tier.upper()}_SETTINGS_MODULE", TIERS[tier]
    )
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
