"""Holder codes at rest keep the format the databases already hold (no data migration): a
ciphertext and a digest made before the cipher moved to `shared.crypto` still read back."""

from shared.crypto import holder_codes

MASTER = "fixed-test-master"
CODE = "91410100MA3X7Y8L0X"
# Made by `shared.access.holders` before the move, with HOLDER_CODE_KEY = MASTER.
STORED_DIGEST = "a3e2d5d2b68106769f9d3c58c7d281c156b458b394ff8418e1bcddfc2e635000"
STORED_CIPHERTEXT = bytes.fromhex(
    "891e68700b8ce1fff03da39df48da5c46d946191395ae2b00dc179c17e01e87f1017fcd55994487e61c88fa14da9"
)


def test_a_stored_code_still_decrypts_and_digests_the_same():
    assert holder_codes.holder_code_decrypt(MASTER, STORED_CIPHERTEXT) == CODE
    assert holder_codes.holder_code_digest(MASTER, CODE) == STORED_DIGEST


def test_a_new_ciphertext_round_trips_and_empty_stays_empty():
    blob = holder_codes.holder_code_encrypt(MASTER, CODE)
    assert blob != STORED_CIPHERTEXT  # a fresh nonce each time
    assert len(blob) == len(STORED_CIPHERTEXT)
    assert holder_codes.holder_code_decrypt(MASTER, memoryview(blob)) == CODE
    assert holder_codes.holder_code_encrypt(MASTER, "") == b""
    assert holder_codes.holder_code_digest(MASTER, "") == ""
    assert holder_codes.holder_code_decrypt(MASTER, None) == ""
