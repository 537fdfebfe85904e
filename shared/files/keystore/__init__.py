"""The library's keys: the CAs, the seals (one family, ECDSA and SM2 suites), the token key,
the PKCS#11 session, and cached signers.

Writes (`pki_init`, `seal_create`, `seal_rotate`, `token_key_rotate`, …) are services; the
rest reads keys and caches what is expensive to rebuild, one of each per worker process:
decrypted keys and pyHanko signers (FIELD-NOTES: parsing a key per signature halves the rate).

- `keys`: the password keys are encrypted with at rest, the decrypted-key cache, key rows;
- `ca`: the ECDSA and SM2 certificate authorities, and the TSA certificate;
- `seals`: the seal family, its signers, `reset_caches`;
- `current`: the active token key and seals kept per signing process for a few seconds;
- `tokens`: the QR-token and trust-list key;
- `rotation`: the keys the console shows, and rotating one (`key_rotate`);
- `hsm`: PKCS#11; `fonts`: the CJK font; `bootstrap`: `pki_init`.

Callers use `from shared.files import keystore` and `keystore.<name>`: the names below.
"""

from shared.files.keystore.bootstrap import pki_init
from shared.files.keystore.ca import (
    CA_DAYS,
    SEAL_DAYS,
    ca_active,
    sm2_ca_active,
    sm2_trust_roots,
    tsa_create,
)
from shared.files.keystore.current import forget_current_keys
from shared.files.keystore.fonts import font_path
from shared.files.keystore.hsm import pkcs11_close, pkcs11_session
from shared.files.keystore.keys import private_key
from shared.files.keystore.rotation import key_rotatable, key_rotate, signing_key_list
from shared.files.keystore.seals import (
    ECDSA,
    OFD_SEAL_MM,
    SEAL_CAPTION,
    SM2,
    SealSuite,
    ofd_signer,
    reset_caches,
    seal_create,
    seal_create_pkcs11,
    seal_current,
    seal_for,
    seal_revoke,
    seal_rotate,
    seal_signer,
    sm2_seal_create,
    sm2_seal_for,
    sm2_seal_rotate,
)
from shared.files.keystore.tokens import (
    token_key_active,
    token_key_current,
    token_key_rotate,
    token_public_key,
    token_sign,
)

__all__ = [
    "CA_DAYS",
    "ECDSA",
    "OFD_SEAL_MM",
    "SEAL_CAPTION",
    "SEAL_DAYS",
    "SM2",
    "SealSuite",
    "ca_active",
    "font_path",
    "forget_current_keys",
    "key_rotatable",
    "key_rotate",
    "ofd_signer",
    "pkcs11_close",
    "pkcs11_session",
    "pki_init",
    "private_key",
    "reset_caches",
    "seal_create",
    "seal_create_pkcs11",
    "seal_current",
    "seal_for",
    "seal_revoke",
    "seal_rotate",
    "seal_signer",
    "signing_key_list",
    "sm2_ca_active",
    "sm2_seal_create",
    "sm2_seal_for",
    "sm2_seal_rotate",
    "sm2_trust_roots",
    "tsa_create",
    "token_key_active",
    "token_key_current",
    "token_key_rotate",
    "token_public_key",
    "token_sign",
]
