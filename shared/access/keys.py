"""This library's SM2 key for signing access-log checkpoints and archives.

`ACCESS_LOG_KEY_FILE` names a PKCS#8 PEM; by default a key is created on first use under
`VAR_DIR/keys/`. Production points the setting at a provisioned key (or HSM export).

The PEM is encrypted (PBES2) under `ACCESS_LOG_KEY_PASSWORD`; in development, without it, under
a password derived from SECRET_KEY, which production refuses (shared/conf/production.py). A
plain PEM left by an older version is encrypted in place the first time it is read.
"""

import functools
import hashlib
import logging
import os
import tempfile
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

logger = logging.getLogger(__name__)
PLAIN_PEM = b"-----BEGIN PRIVATE KEY-----"


def _key_path() -> Path:
    if settings.ACCESS_LOG_KEY_FILE:
        return Path(settings.ACCESS_LOG_KEY_FILE)
    return var_dir() / "keys" / f"access-log-{settings.LIBRARY_CODE}.pem"


def _password() -> bytes:
    configured = getattr(settings, "ACCESS_LOG_KEY_PASSWORD", "")
    if configured:
        return configured.encode()
    return (
        hashlib.sha256(f"elicense-access-log-key:{settings.SECRET_KEY}".encode())
        .hexdigest()
        .encode()
    )


def _replace_private(file: Path, data: bytes) -> None:
    """Write `file` as 0600 in one rename: a reader sees the old key or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stamp(file: Path) -> tuple[int, int]:
    # A rotation replaces the file (a new inode): every process reads the new key at its next
    # signature instead of keeping the one it cached (docs/pki.md, key rotation).
    try:
        st = file.stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_ino, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(path: str, password: bytes, stamp: tuple[int, int]) -> PrivateKey:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = private_key_to_pem(get_suite("gm").generate_key(), password)
        try:  # O_EXCL: two processes starting at once keep one key, the first one's
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    data = file.read_bytes()
    if data.lstrip().startswith(PLAIN_PEM):
        key = private_key_from_pem(data, None)
        try:
            _replace_private(file, private_key_to_pem(key, password))
            logger.warning("access log: encrypted the plain signing key at rest (%s)", file)
        except OSError:  # a read-only provisioned file: keep signing, say what to fix
            logger.error(
                "access log: signing key %s is not encrypted and cannot be rewritten", file
            )
        return key
    return private_key_from_pem(data, password)


def log_signing_key() -> PrivateKey:
    path = _key_path()
    return _load(str(path), _password(), _stamp(path))


def log_key_replace(new: PrivateKey) -> None:
    """Make `new` the signing key in one rename, keeping the old file beside it as
    `<name>.retired-<kid>` (checkpoints it signed carry its public key; the copy is for the
    operator). The caller holds the log head lock, so no checkpoint is signed meanwhile."""
    path = _key_path()
    old = log_signing_key()
    suite = get_suite("gm")
    retired = path.with_name(f"{path.name}.retired-{suite.key_id(suite.public_key_of(old))}")
    _replace_private(retired, private_key_to_pem(old, _password()))
    _replace_private(path, private_key_to_pem(new, _password()))


def log_public_key_pem() -> str:
    suite = get_suite("gm")
    return public_key_to_pem(suite.public_key_of(log_signing_key())).decode()


def log_key_id() -> str:
    suite = get_suite("gm")
    return suite.key_id(suite.public_key_of(log_signing_key()))
