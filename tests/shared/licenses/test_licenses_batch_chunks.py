"""Bulk rows are written a chunk per transaction (issue #16 item 9: a node commits 100 licences/s
through its API): a row that fails while being written fails alone, and a chunk costs far fewer
queries than a transaction per row did."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shared.licenses import batches
from shared.licenses.batches import batch_create, batch_process
from shared.licenses.models import Batch, BatchItem, License
from tests.support import make_type, make_uscc

pytestmark = pytest.mark.django_db


def row(issue_payload, i, **overrides):
    holder = {
        "name": f"分块企业{i}",
        "code": make_uscc(dept="91", area="410100", body=f"CK{i:06d}"),
        "code_type": "001",
    }
    return issue_payload(number=f"CK-{i}", holder=holder, **overrides)


def test_a_row_refused_while_written_fails_alone_and_leaves_no_gap(issuer_user, issue_payload):
    # given: three rows of a type without a length limit, the middle one too long to print —
    # refused by the print check inside the write, not by the checks before it
    wide = make_type(
        issuer_user,
        seq=8,
        requires_review=False,
        surface_schema={"type": "object", "properties": {"经营范围": {"type": "string"}}},
    )
    items = [
        row(issue_payload, i, type_code=wide.type_code, surface={"经营范围": text})
        for i, text in enumerate(["食品销售", "食品销售" * 1500, "餐饮服务"])
    ]
    batch = batch_create(actor=issuer_user, mode="bulk", items=items)
    # when
    batch_process(batch_id=str(batch.pk))
    # then: the other two are issued, with consecutive serials (the refused row's savepoint
    # took its serial back with it)
    states = list(batch.items.order_by("index").values_list("state", "error_code"))
    assert states == [
        (BatchItem.State.ISSUED, ""),
        (BatchItem.State.FAILED, "file.text_overflow"),
        (BatchItem.State.ISSUED, ""),
    ]
    serials = sorted(int(s) for s in License.objects.values_list("serial", flat=True))
    assert len(serials) == 2 and serials[1] == serials[0] + 1
    batch.refresh_from_db()
    assert (batch.processed, batch.succeeded, batch.failed, batch.state) == (3, 2, 1, "done")


def test_rows_over_several_chunks_are_issued_in_few_queries(issuer_user, issue_payload):
    # given: more rows than one chunk holds
    count = batches.CHUNK * 2 + 3
    items = [row(issue_payload, i) for i in range(count)]
    batch = batch_create(actor=issuer_user, mode="bulk", items=items)
    # when
    with CaptureQueriesContext(connection) as queries:
        batch_process(batch_id=str(batch.pk))
    # then: every row issued once, each with its own licence
    assert BatchItem.objects.filter(batch=batch, state="issued").count() == count
    assert License.objects.filter(number__startswith="CK-").count() == count
    assert Batch.objects.get(pk=batch.pk).succeeded == count
    # A transaction per row took 20 queries a row (claim, commit, outcome, counters, the type
    # read again); a chunk takes about 13.
    assert len(queries) / count < 15, len(queries) / count
