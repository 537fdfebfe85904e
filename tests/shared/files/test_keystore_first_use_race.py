"""Keys made on first use, by several processes at once (CI saw it: the worker sealing the first
licence while the counter asked for its QR token). Each caller here is a thread with its own
PostgreSQL connection, released together: every one gets the same CA and token key, none an
error, and the library ends with one active key of each kind."""

import threading

import pytest
from django.db import connection, connections

from shared.core import locks
from shared.files import keystore
from shared.files.models import SigningKey

CALLERS = 4


def at_once(call) -> list:  # type: ignore[no-untyped-def]
    """`call()` in CALLERS threads released together; what each returned or raised."""
    start = threading.Barrier(CALLERS)
    results: list = [None] * CALLERS

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def active(kind: str) -> list[str]:
    return list(
        SigningKey.objects.filter(kind=kind, agency=None, active=True).values_list(
            "key_id", flat=True
        )
    )


@pytest.fixture
def counted_locks(monkeypatch):
    """Every keystore lock taken, by name (the fix is asserted to have run)."""
    taken: list[str] = []
    original = locks.transaction_lock

    def counting(name: str, **kwargs):  # type: ignore[no-untyped-def]
        taken.append(name)
        return original(name, **kwargs)

    monkeypatch.setattr(locks, "transaction_lock", counting)
    return taken


@pytest.mark.django_db(transaction=True)
def test_the_first_token_keys_made_at_once_are_one_key(settings, counted_locks):
    assert connection.vendor == "postgresql"
    settings.FILES_PKI_AUTO_INIT = True  # a development library: the whole PKI on first use
    keystore.reset_caches()
    # when: four processes sign their first QR token at once
    results = at_once(lambda: keystore.token_key_active().key_id)
    # then: no error, one key
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(set(results)) == 1
    assert active(SigningKey.Kind.TOKEN) == [results[0]]
    assert len(active(SigningKey.Kind.CA)) == 1
    # none made and at once retired: one token key and one CA in all
    assert SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN).count() == 1
    assert SigningKey.objects.filter(kind=SigningKey.Kind.CA).count() == 1
    assert "files.keystore" in counted_locks


@pytest.mark.django_db(transaction=True)
def test_concurrent_pki_init_makes_each_key_once(settings, counted_locks):
    settings.FILES_PKI_AUTO_INIT = True
    results = at_once(lambda: {k: v.key_id for k, v in keystore.pki_init().items()})
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert all(r == results[0] for r in results)
    for kind in (SigningKey.Kind.CA, SigningKey.Kind.TOKEN, SigningKey.Kind.SM2_CA):
        assert len(active(kind)) == 1, kind
    assert counted_locks.count("files.keystore") >= CALLERS


@pytest.mark.django_db(transaction=True)
def test_two_rotations_at_once_leave_one_active_token_key(settings, counted_locks):
    keystore.pki_init()
    first = active(SigningKey.Kind.TOKEN)
    results = at_once(lambda: keystore.token_key_rotate(reason="test").key_id)
    assert [r for r in results if isinstance(r, BaseException)] == []
    now = active(SigningKey.Kind.TOKEN)
    assert len(now) == 1 and now != first and now[0] in results
    assert counted_locks.count("files.keystore") >= CALLERS
