"""One relay per stream: the lease names its holder by process and thread.

Celery's prefork children import the relay module in their parent before forking; when the
holder's name was a module constant they all shared it, so each child "renewed" a lease that
another child held and both sent the same envelopes at once (the receiver dropped the copies,
after verifying every one of them).
"""

import os
import threading

import pytest
from django.db import connection
from django.utils import timezone

from shared.federation import relay
from shared.federation.models import StreamState


def test_a_forked_child_is_not_the_lease_holder_its_parent_is():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its name and leave without running any cleanup
        os.write(write, relay._owner().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.waitpid(pid, 0)
    assert child and child != relay._owner()


@pytest.mark.django_db(transaction=True)
def test_a_second_runner_cannot_take_a_held_lease_until_it_is_released():
    outcomes = {}

    def other(name):
        try:
            outcomes[name] = relay._lease("410000")
        finally:
            connection.close()

    assert relay._lease("410000")
    assert relay._lease("410000")  # the holder renews its own lease
    thread = threading.Thread(target=other, args=("while held",))
    thread.start()
    thread.join()
    relay._release("410000")
    thread = threading.Thread(target=other, args=("after release",))
    thread.start()
    thread.join()
    assert outcomes == {"while held": False, "after release": True}
    assert StreamState.objects.get(stream="410000").lease_owner != relay._owner()


@pytest.mark.django_db
def test_the_lease_outlasts_the_longest_send(settings):
    """A send blocks up to connect + read timeout; a lease that expired during it let a second
    relay run send the same rows again (bench/province saw each event arrive ≈ 2.8 times)."""
    settings.FEDERATION_HTTP_TIMEOUT = (3.0, 30.0)
    before = timezone.now()
    assert relay._lease("410000")
    held = StreamState.objects.get(stream="410000").lease_until - before
    assert held.total_seconds() >= 3.0 + 30.0 + relay.LEASE_SECONDS - 1
