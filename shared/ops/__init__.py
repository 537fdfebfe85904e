"""Operations across the apps: `/readyz` and `/metrics` (docs/operations.md), and the structured
log lines with their request id (shared.ops.logs).

A Django app without models (for `OpsConfig.ready`): a layer just under the console, so it may
read every app below."""
