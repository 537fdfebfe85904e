"""Production checks the holder-code keyring: HOLDER_CODE_KEYS, when set, replaces
HOLDER_CODE_KEY; every version's secret must be random and long, none shared."""

import pytest

from shared.conf.env import INSECURE_SECRET_PREFIX, ImproperlyConfiguredError
from shared.conf.production import check_production_settings
from tests.shared.demo.test_hardening_secrets import production_settings

GOOD_NEW, GOOD_OLD = "n" * 40, "o" * 40


def test_a_keyring_of_long_random_secrets_is_accepted():
    # given
    settings = production_settings(HOLDER_CODE_KEYS=f"2:{GOOD_NEW},1:{GOOD_OLD}")
    # when / then: no exception
    check_production_settings(settings)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("2:short,1:" + GOOD_OLD, "versions 2 are not"),
        (f"2:{GOOD_NEW},1:{INSECURE_SECRET_PREFIX}{'x' * 40}", "versions 1 are not"),
        (f"2:{'s' * 50},1:{GOOD_OLD}", "versions 2 are not"),  # the SECRET_KEY
        (f"2:{GOOD_NEW},1:{GOOD_NEW}", "share one secret"),
        (f"2:{GOOD_NEW},2:{GOOD_OLD}", "listed twice"),
        ("just-a-secret-without-a-version-number", "malformed"),
    ],
    ids=["short", "development", "secret-key", "shared", "twice", "malformed"],
)
def test_a_weak_or_malformed_keyring_is_refused(keys, message):
    # given
    settings = production_settings(HOLDER_CODE_KEYS=keys)
    # when
    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings(settings)
    # then
    assert "HOLDER_CODE_KEYS" in str(refused.value)
    assert message in str(refused.value)


def test_without_a_keyring_the_single_key_is_still_checked():
    # given
    settings = production_settings(HOLDER_CODE_KEY="short", HOLDER_CODE_KEYS="")
    # when
    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings(settings)
    # then
    assert "HOLDER_CODE_KEY must be set" in str(refused.value)
