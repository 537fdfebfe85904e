"""Licence files: where they are kept, how they are signed, and how the `signing` queue works
through them (shared/files). Read by base.py; every name is documented in docs/environment.md."""

from shared.conf.env import env, env_int

FILES_ROOT = env("FILES_ROOT", "")  # default: VAR_DIR/files/<library code>
FILES_KEY_PASSWORD = env("FILES_KEY_PASSWORD", "")  # encrypts seal keys at rest; default: derived
FILES_CJK_FONT = env("FILES_CJK_FONT", "")  # a TrueType CJK font; default: fc-match
FILES_PUBLIC_BASE_URL = env("FILES_PUBLIC_BASE_URL", "http://127.0.0.1:8000")  # QR URL prefix
FILES_TSA_URL = env("FILES_TSA_URL", "")  # RFC 3161 TSA: PAdES B-T when set, else B-B
FILES_MAX_ATTEMPTS = env_int("FILES_MAX_ATTEMPTS", 5)
# How long a signing process keeps the active token key and seals (seconds; a rotation elsewhere
# is seen within it; shared/files/keystore/current.py); 0 reads them for every file.
FILES_KEY_CACHE_SECONDS = env_int("FILES_KEY_CACHE_SECONDS", 5)
# The signing queue's drain (shared/files/drain.py): files a licence change asks for are taken
# FILES_DRAIN_BATCH at a time, the batch's rows marked ready in one transaction; a web process
# queues at most one drain per FILES_DRAIN_COALESCE_MS (and one more at its end); a drain
# gives the queue back after FILES_DRAIN_SECONDS (a worker that also serves `default`, as the
# demo's does, runs the relay in between: a longer drain held it, and the sync lag with it);
# a claimed row is left to other drains, and to the per-file tasks the sweep queues, for
# FILES_CLAIM_SECONDS (a drain that died: its rows are taken again once the claim is older).
FILES_DRAIN_BATCH = env_int("FILES_DRAIN_BATCH", 8)
FILES_DRAIN_COALESCE_MS = env_int("FILES_DRAIN_COALESCE_MS", 200)
FILES_DRAIN_SECONDS = env_int("FILES_DRAIN_SECONDS", 2)
FILES_CLAIM_SECONDS = env_int("FILES_CLAIM_SECONDS", 60)
