"""Reconciliation in both directions over real HTTP (issue #13 item 5): the hub and 郑州, one
federation for the module. Each step damages one side by hand in the database, runs
`hub reconcile --node 410100` once to find and repair it (its owner resends), and once more
to see zero differences:

- licences the hub pushed down (art. 15), deleted or altered at the city → resent down;
- a city type altered at the hub → resent up by the city;
- a city file removed from the hub's disk → fetched again by digest.
"""

import pytest

from tests.federation.fedlib import issue_batch, wait_synced
from tests.federation.harness import Federation, wait_until

NODE = "410100"
DOWN = "SELECT identifier, status, last_event_seq FROM licenses_license WHERE library_code = '410000' ORDER BY identifier"


@pytest.fixture(scope="module")
def fed(templates, tmp_path_factory):
    federation = Federation(tmp_path_factory.mktemp("recon"), templates, ["hub", NODE])
    federation.start()
    yield federation
    federation.stop()


def reconcile(hub) -> tuple[dict[str, int], str]:
    result = hub.manage("reconcile", "--node", NODE)
    counts = {k: int(v) for k, v in (part.split("=") for part in result.stdout.split())}
    return counts, result.stdout + result.stderr[-3000:]


def hub_outbox_acknowledged(hub) -> bool:
    return hub.sql(
        "SELECT count(*) FROM federation_outboxevent WHERE stream = %s AND state <> 'acknowledged'",
        (NODE,),
    ) == [(0,)]


def delete_licence(lib, identifier: str) -> None:
    """Delete a licence row and whatever refers to it, as a lost row would be."""
    (lic_id,) = lib.sql("SELECT id FROM licenses_license WHERE identifier = %s", (identifier,))[0]
    refs = lib.sql(
        "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "WHERE c.confrelid = 'licenses_license'::regclass AND c.contype = 'f'"
    )
    for table, column in refs:
        lib.sql(f"DELETE FROM {table} WHERE {column} = %s", (lic_id,))  # noqa: S608
    lib.sql("DELETE FROM licenses_license WHERE id = %s", (lic_id,))


def test_licences_pushed_down_and_lost_or_altered_at_the_city_are_resent_by_the_hub(fed):
    hub, node = fed["hub"], fed[NODE]
    # given: three licences issued at the hub for 郑州 holders, pushed down to 郑州
    issue_batch(hub, 3)
    wait_until(lambda: len(node.sql(DOWN)) == 3, timeout=90, message="pushed down")
    wait_until(lambda: hub_outbox_acknowledged(hub), message="downward stream acknowledged")
    wait_synced(hub, node)
    held = node.sql(DOWN)
    # 郑州 loses one and holds another altered
    delete_licence(node, held[0][0])
    node.sql("UPDATE licenses_license SET status = 'revoked' WHERE identifier = %s", (held[1][0],))
    # when
    found, out = reconcile(hub)
    # then: both found and resent down by their owner; 郑州 holds them as the hub does again
    assert found["license.down.resent"] == 2, out
    assert found["differences"] == 2, out
    wait_until(lambda: node.sql(DOWN) == held, timeout=60, message="repaired at the city")
    wait_until(lambda: hub_outbox_acknowledged(hub), message="repairs acknowledged")
    again, out = reconcile(hub)
    assert again["differences"] == 0, out


def test_a_city_type_altered_at_the_hub_is_resent_by_the_city(fed):
    hub, node = fed["hub"], fed[NODE]
    wait_synced(hub, node)
    type_code = node.credentials()["issuer"]["type_codes"][0]
    row = "SELECT name, description FROM catalog_licensetype WHERE type_code = %s"
    original = node.sql(row, (type_code,))
    assert hub.sql(row, (type_code,)) == original
    # given: the hub's copy altered by hand
    hub.sql("UPDATE catalog_licensetype SET name = '被改动' WHERE type_code = %s", (type_code,))
    # when
    found, out = reconcile(hub)
    # then
    assert found["type.up.resent"] == 1 and found["differences"] == 1, out
    wait_until(lambda: hub.sql(row, (type_code,)) == original, message="type repaired at the hub")
    wait_synced(hub, node)
    again, out = reconcile(hub)
    assert again["differences"] == 0, out


def test_a_city_file_removed_at_the_hub_is_fetched_again(fed):
    hub, node = fed["hub"], fed[NODE]
    ready = (
        "SELECT identifier, path, sm3 FROM federation_remotefile "
        "WHERE node = %s AND state = 'ready' ORDER BY id LIMIT 1"
    )
    wait_until(lambda: hub.sql(ready, (NODE,)), timeout=120, message="a city file at the hub")
    wait_synced(hub, node)
    identifier, path, sm3 = hub.sql(ready, (NODE,))[0]
    stored = hub.workdir / "files" / "410000" / path
    assert stored.is_file()
    # every fetched file is on this hub's disk (a stray worker of another run on the same
    # broker and database would have stored some elsewhere)
    paths = [row[1] for row in hub.sql(ready.replace(" LIMIT 1", ""), (NODE,))]
    missing = [p for p in paths if not (hub.workdir / "files" / "410000" / p).is_file()]
    assert missing == [], "files fetched by a process outside this federation"
    # given: the file lost from the hub's disk
    stored.unlink()
    # when
    found, out = reconcile(hub)
    # then
    assert found["file.up.refetched"] == 1 and found["differences"] == 1, out
    state = "SELECT state, path FROM federation_remotefile WHERE identifier = %s AND sm3 = %s"
    wait_until(
        lambda: hub.sql(state, (identifier, sm3)) == [("ready", path)],
        timeout=60,
        message="file fetched again",
    )
    assert stored.is_file()
    again, out = reconcile(hub)
    assert again["differences"] == 0, out
