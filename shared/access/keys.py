"""This library's SM2 key for signing access-log checkpoints and archives.

`ACCESS_LOG_KEY_FILE` names a PKCS#8 PEM; by default a key is created on first use under
`VAR_DIR/keys/`. Production points the setting at a provisioned key (or HSM export).
"""

import functools
import os
from pathlib import Path

from django.conf import settings

from shared.conf.env import var_dir
from shared.crypto.suites import (
    PrivateKey,
    get_suite,
    private_key_from_pem,
    private_key_to_pem,
    public_key_to_pem,
)


def _key_path() -> Path:
    if settings.ACCESS_LOG_KEY_FILE:
        return Path(settings.ACCESS_LOG_KEY_FILE)
    return var_dir() / "keys" / f"access-log-{settings.LIBRARY_CODE}.pem"


@functools.cache
def _load(path: str) -> PrivateKey:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        pem = private_key_to_pem(get_suite("gm").generate_key(), None)
        try:  # O_EXCL: two processes starting at once keep one key, the first one's
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    return private_key_from_pem(file.read_bytes(), None)


def log_signing_key() -> PrivateKey:
    return _load(str(_key_path()))


def log_public_key_pem() -> str:
    suite = get_suite("gm")
    return public_key_to_pem(suite.public_key_of(log_signing_key())).decode()


def log_key_id() -> str:
    suite = get_suite("gm")
    return suite.key_id(suite.public_key_of(log_signing_key()))
