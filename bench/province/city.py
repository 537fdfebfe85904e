"""One simulated city of bench/province: its agency, licence type and licences in memory, its
outbox and relay, and the node's side of reconciliation (see simulator.py)."""

import json
import random
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HUB = "410000"
PASSWORD = b"bench-province-simulated-city-keys"
BATCH = 200  # events per envelope (FEDERATION_BATCH_SIZE's default)
# The mix of single changes (weights); bulk uploads come on top (--bulk-every, --bulk-size).
MIX = {"issue": 50, "amend": 18, "renew": 10, "suspend": 10, "resume": 6, "revoke": 6}


class City:
    """One simulated city: its agency, licence type, licences, outbox and relay."""

    def __init__(self, code: str, index: int, directory: Path, template: Any, hub_url: str):
        from shared.accounts.models import Agency
        from shared.conf.divisions import CITIES
        from shared.crypto import suites
        from shared.demo.data import make_uscc
        from shared.exchange.adapters import HttpAdapter

        self.code = code
        exported = json.loads((directory / f"{code}.json").read_text())
        self.kid = exported["kid"]
        self.key = suites.private_key_from_pem((directory / f"{code}.key").read_bytes(), PASSWORD)
        self.agency = Agency(
            code=make_uscc(dept="11", area=code, body=f"P{index:07d}"),
            name=f"{CITIES[code]}市场监督管理局",
            kind=Agency.Kind.DEPARTMENT,
            level=Agency.Level.CITY,
            area_code=code,
            is_issuer=True,
            is_consumer=False,
        )
        self.type = template
        self.type.pk = None
        self.type.type_code = template.type_code[:18] + f"{200 + index:03d}"
        self.type.issuer = self.agency
        self.fields = list(template.surface_schema.get("required", []))
        self.matter = template.related_matters[0]["code"] if template.related_matters else ""
        self.licences: list[Any] = []
        self.lock = threading.Lock()
        self.outbox: list[dict[str, Any]] = []  # not yet acknowledged, in seq order
        self.seq = 0
        self.acked = 0
        self.committed: dict[tuple[str, int], float] = {}  # (base key, event seq) -> commit time
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.sending = False
        self.hub_url = hub_url
        self.adapter = HttpAdapter(
            base_url=hub_url,
            sender=code,
            envelopes_path="/api/v1/exchange/envelopes/",
            status_path="/api/v1/exchange/status",
            auth_token=lambda method, url: self.token(method, url),
            timeout=(3.0, 30.0),
        )

    def token(self, method: str, url: str, body: bytes = b"") -> str:
        """`shared.federation.auth.request_token`'s claims, signed with this city's key."""
        from urllib.parse import urlsplit

        from shared.crypto.suites import suite_for_key
        from shared.crypto.tokens import sign_token
        from shared.federation.auth import LIFETIME_SECONDS, body_digest

        now = int(time.time())
        claims = {
            "iss": self.code,
            "aud": HUB,
            "iat": now,
            "exp": now + LIFETIME_SECONDS,
            "htm": method.upper(),
            "htu": urlsplit(url).path,
            "bdh": body_digest(body),
        }
        return sign_token(suite=suite_for_key(self.key), key=self.key, kid=self.kid, claims=claims)

    # --- changes, as shared.licenses makes them -----------------------------------------

    def _queue(self, kind: str, key: str, payload: dict[str, Any], seq_key: tuple | None) -> None:
        with self.lock:
            self.seq += 1
            self.outbox.append({"seq": self.seq, "kind": kind, "key": key, "payload": payload})
            if seq_key is not None:
                self.committed[seq_key] = time.time()

    def publish_type(self) -> None:
        from shared.federation.snapshots import SCHEMA, type_snapshot

        snap = type_snapshot(self.type)
        self._queue("catalog.type", self.type.type_code, {"schema": SCHEMA, "type": snap}, None)

    def _surface(self, n: int, variant: int = 0) -> dict[str, str]:
        return {name: f"模拟{self.code}企业{n}{'变更' * variant}" for name in self.fields}

    def _send_change(self, lic: Any, event: Any, version: Any) -> None:
        from django.utils import timezone

        from shared.federation import snapshots
        from shared.federation.digests import base_key

        payload = {
            "schema": snapshots.SCHEMA,
            "license": snapshots.license_snapshot(lic),
            "event": snapshots.event_snapshot(event),
            "version": snapshots.version_snapshot(version) if version is not None else None,
            "committed_at": timezone.now().isoformat(),
        }
        key = base_key(
            type_code=self.type.type_code, issuer_code=self.agency.code, serial=lic.serial
        )
        self._queue("license.event", key, payload, (key, event.seq))

    def _event(self, lic: Any, *, action: str, from_status: str, data: dict, reason: str = ""):
        from shared.licenses.models import LicenseEvent

        return LicenseEvent(
            license=lic,
            seq=lic.last_event_seq,
            action=action,
            from_status=from_status,
            to_status=lic.status,
            version=lic.version,
            identifier=lic.identifier,
            reason=reason,
            data={**data, "actor": f"sim_{self.code}_scj"},
            actor=None,
            actor_agency_code=self.agency.code,
            library_code=lic.library_code,
        )

    def _version(self, lic: Any, previous: str) -> Any:
        from shared.licenses import codec
        from shared.licenses.models import LicenseVersion
        from shared.licenses.records import version_digest

        lic.content_digest = version_digest(lic, self.type, previous)
        return LicenseVersion(
            license=lic,
            **codec.version_content(lic),
            previous_identifier=previous,
            content_digest=lic.content_digest,
        )

    def issue(self) -> None:
        from django.utils import timezone

        from shared.domain.identifiers import build_identifier
        from shared.licenses.models import License

        today = timezone.localdate()
        n = len(self.licences) + 1
        serial = f"{today.year}{n:07d}"
        lic = License(
            identifier=str(
                build_identifier(
                    type_code=self.type.type_code,
                    issuer_code=self.agency.code,
                    serial=serial,
                    version=1,
                )
            ),
            license_type=self.type,
            issuer=self.agency,
            serial=serial,
            version=1,
            number=f"S{self.code}{n:07d}",
            status="valid",
            pledged=False,
            pledgee="",
            holder_name=f"模拟{self.code}企业{n}",
            holder_code=holder_code(self.code, n),
            holder_code_type="001",
            issue_date=today,
            valid_from=today,
            valid_to=today + timedelta(days=3 * 365),
            area_code=self.code,
            matter_code=self.matter,
            surface=self._surface(n),
            mode="online",
            case_completed_at=timezone.now(),
            sync_deadline=today + timedelta(days=1),
            sync_deadline_provisional=False,
            library_code=self.code,
            last_event_seq=1,
        )
        version = self._version(lic, "")
        self.licences.append(lic)
        self._send_change(lic, self._event(lic, action="issue", from_status="", data={}), version)

    def act(self, action: str) -> bool:
        """One lifecycle change of a random licence that allows it; False if none was found."""
        from django.utils import timezone

        from shared.domain.identifiers import parse_identifier
        from shared.domain.status import TRANSITIONS, Action, Status, apply_action

        transition = TRANSITIONS[Action(action)]
        for _ in range(8):
            if not self.licences:
                return False
            lic = random.choice(self.licences)
            if Status(lic.status) in transition.sources:
                break
        else:
            return False
        outcome = apply_action(
            status=Status(lic.status), pledged=lic.pledged, action=Action(action)
        )
        from_status, previous = lic.status, lic.identifier
        data: dict[str, Any] = {}
        version = None
        if outcome.new_version:
            today = timezone.localdate()
            if action == "renew":
                lic.valid_from = max(today, lic.valid_to + timedelta(days=1))
                lic.valid_to = lic.valid_from + timedelta(days=3 * 365)
            else:
                lic.surface = self._surface(int(lic.serial[4:]), variant=lic.version)
            lic.version += 1
            lic.issue_date = today
            lic.identifier = str(parse_identifier(lic.identifier).with_version(lic.version))
            data["previous_identifier"] = previous
        lic.status = outcome.status.value
        lic.pledged = outcome.pledged
        if outcome.new_version:
            version = self._version(lic, previous)
        lic.last_event_seq += 1
        reason = "" if outcome.new_version else f"模拟{action}"
        event = self._event(lic, action=action, from_status=from_status, data=data, reason=reason)
        self._send_change(lic, event, version)
        return True

    def step(self) -> None:
        kind = random.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "issue" or not self.act(kind):
            kind = "issue"
            self.issue()
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def bulk(self, size: int) -> None:
        for _ in range(size):
            self.issue()
        self.counts["bulk_issue"] = self.counts.get("bulk_issue", 0) + size

    # --- the relay -----------------------------------------------------------------------

    def relay(self) -> None:
        """Send what is queued, envelope by envelope, until nothing is left or one fails."""
        from django.utils import timezone

        from shared.exchange.adapters import ExchangeError
        from shared.exchange.envelopes import seal_wire

        try:
            for _ in range(50):  # then let the loop look again, as relay_stream's max_envelopes
                with self.lock:
                    rows = [r for r in self.outbox[:BATCH] if r["seq"] > self.acked]
                    backlog = len(self.outbox) - len(rows)
                if not rows:
                    return
                envelope, wire = seal_wire(
                    key=self.key,
                    kid=self.kid,
                    sender=self.code,
                    receiver=HUB,
                    stream=HUB,
                    events=rows,
                    now=timezone.now(),
                    extra={"backlog": backlog},
                )
                try:
                    ack = self.adapter.send(envelope, wire=wire)
                except ExchangeError as exc:
                    if exc.code == "exchange.gap" and exc.expected is not None:
                        self._acknowledge(exc.expected - 1)
                        continue
                    self.errors.append(f"{exc.code}: {exc.message}"[:300])
                    return
                for rejected in ack.rejected:
                    self.errors.append(f"rejected {rejected}"[:300])
                self._acknowledge(ack.high_water_mark)
        finally:
            self.sending = False

    def _acknowledge(self, mark: int) -> None:
        with self.lock:
            self.acked = max(self.acked, mark)
            self.outbox = [r for r in self.outbox if r["seq"] > self.acked]

    # --- reconciliation, the node's side -------------------------------------------------

    def reconcile(self) -> dict[str, int]:
        import requests

        from shared.exchange.reconcile import compare
        from shared.federation.digests import MemoryDigests, base_key, bucket_keys, leaf_digest

        leaves = {}
        for lic in self.licences:
            base = base_key(
                type_code=self.type.type_code, issuer_code=self.agency.code, serial=lic.serial
            )
            l0, l1 = bucket_keys(
                issuer_code=self.agency.code, case_completed_at=lic.case_completed_at, base=base
            )
            leaves[base] = (
                l0,
                l1,
                leaf_digest(
                    identifier=lic.identifier,
                    version=lic.version,
                    status=lic.status,
                    pledged=lic.pledged,
                    last_event_seq=lic.last_event_seq,
                    content_digest=lic.content_digest,
                ),
            )
        city = self

        class HubDigests:
            url = city.hub_url + "/api/v1/exchange/digests/"

            def digests(self, level: int, prefixes: list[str]) -> dict:
                body = json.dumps(
                    {"scope": city.code, "level": level, "prefixes": prefixes, "kind": "licenses"},
                    separators=(",", ":"),
                ).encode()
                response = requests.post(
                    self.url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Exchange-Token": city.token("POST", self.url, body),
                    },
                    timeout=30,
                )
                response.raise_for_status()
                return {k: (int(v[0]), str(v[1])) for k, v in response.json()["digests"].items()}

        diff = compare(MemoryDigests(leaves), HubDigests())
        return {
            "licences": len(leaves),
            "differences": diff.total,
            "missing_at_hub": len(diff.missing_remote),
            "only_at_hub": len(diff.missing_local),
            "different": len(diff.different),
            "round_trips": diff.round_trips,
        }


def holder_code(city: str, n: int) -> str:
    """The holder of simulated licence `n` of `city` (the consumers query by it)."""
    from shared.demo.data import make_uscc

    return make_uscc(dept="91", area=city, body=f"H{n:07d}")
