"""Operations endpoints that read across the apps: `/readyz` and `/metrics` (docs/operations.md).

Not a Django app (no models): a layer just under the console, so it may read every app below."""
