"""Reconciliation repairs the hub's copy of a city's licences (DESIGN §6): rows altered or
deleted at the hub by hand are found and re-sent by the city."""

from tests.federation.fedlib import assert_converged, issue_batch, reconcile, wait_synced


def test_rows_altered_or_deleted_at_the_hub_are_found_and_repaired(federation):
    hub, node = federation["hub"], federation["410100"]
    issue_batch(node, 40, start=1000)  # numbers apart from the other flows' licences
    wait_synced(hub, node)
    # Licences without review requests: a request's mirror holds its licence (PROTECT), so the
    # database itself refuses to delete a disputed licence by hand.
    rows = hub.sql(
        "SELECT id, identifier FROM licenses_license WHERE library_code = '410100' AND id NOT IN "
        "(SELECT license_id FROM reviews_reviewrequest) ORDER BY id LIMIT 3"
    )
    (altered_id, _), (deleted_id, deleted_ident), (pledged_id, _) = rows
    # someone changes the hub's copy directly in the database
    hub.sql("UPDATE licenses_license SET status = 'revoked' WHERE id = %s", (altered_id,))
    hub.sql("UPDATE licenses_license SET pledged = true WHERE id = %s", (pledged_id,))
    hub.sql("DELETE FROM licenses_licenseevent WHERE license_id = %s", (deleted_id,))
    hub.sql("DELETE FROM licenses_licenseversion WHERE license_id = %s", (deleted_id,))
    hub.sql("DELETE FROM licenses_license WHERE id = %s", (deleted_id,))
    # reconciliation finds exactly those three, and the node re-sends them
    found = reconcile(hub, node)
    assert (found["differences"], found["missing_at_hub"], found["stale_at_hub"]) == (3, 1, 2)
    assert found["repaired"] == 3
    assert_converged(hub, node)
    assert hub.count("identifier = %s", (deleted_ident,)) == 1
    runs = hub.sql("SELECT differences, repaired FROM federation_reconcilerun ORDER BY id")
    assert runs[-2] == (3, 3) and runs[-1][0] == 0
