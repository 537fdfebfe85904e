"""One encrypted-field type for holder codes: the models that carry a code keep ciphertext and
a keyed digest, never the plaintext, and read it back through the same property."""

import pytest
from django.test import override_settings

from shared.accounts.models import User
from shared.core.holder_codes import HolderCode, holder_code_digest
from shared.crypto import holder_codes as cipher
from shared.licenses.models import License, LicenseVersion
from shared.watch.models import Watch

CODE = "91410100MA3X7Y8L0X"


@pytest.mark.parametrize("model", [License, LicenseVersion, User, Watch])
@override_settings(HOLDER_CODE_KEY="fixed-test-master")
def test_every_model_keeps_the_code_encrypted_with_its_digest(model):
    row = model(holder_code=CODE)  # a keyword, as Django accepts for properties
    assert isinstance(model.__dict__["holder_code"], HolderCode)
    assert CODE.encode() not in bytes(row.holder_code_enc)
    assert cipher.holder_code_decrypt("fixed-test-master", row.holder_code_enc) == CODE
    assert row.holder_code_digest == cipher.holder_code_digest("fixed-test-master", CODE)
    assert row.holder_code_digest == holder_code_digest(CODE)
    assert row.holder_code == CODE
    row.holder_code = ""
    assert (bytes(row.holder_code_enc), row.holder_code_digest, row.holder_code) == (b"", "", "")
