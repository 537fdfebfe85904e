"""Signed envelopes between libraries (DESIGN §6). Pure: no Django.

An envelope carries an ordered batch of outbox events of one stream from one sender. Its body,

    {"schema", "envelope_id", "sender", "receiver", "stream", "sent_at", "events": [...], ...}

travels in one of three forms:

- version 3 (sent over HTTP): the body's JSON bytes are the request's body
  (`RAW_MEDIA_TYPE`), and `alg`, `kid`, `sig` travel in headers (`raw_request`). The receiver
  parses the body once; version 2's base64 inside JSON cost the hub a parse of the whole
  envelope, a base64 decode, and the node a base64 encode (together ~9 % of ingest's CPU,
  bench/sync). A bus message (AMQP) is JSON, so it carries version 2.
- version 2: ``{"v": 2, "signed": "<base64 of the body's JSON bytes>", "alg", "kid",
  "sig"}``. The signature covers those bytes as sent, as a JWS covers its payload: neither end
  puts the body into a canonical form. Canonicalising (sorting every key of thousands of
  events) was a quarter of a node's relay CPU and an eighth of the hub's ingest (bench/sync);
  base64 of the same bytes costs a hundredth of that.
- version 1 (still accepted, from a sender not yet upgraded): ``{"body": {...}, "alg", "kid",
  "sig"}``, the signature over the canonical JSON of `body`.

Either way any change to any event is detected. `envelope_id` is fresh for every attempt: a
retry is a new envelope carrying the same events (the receiver ignores events it already
applied), while a byte-for-byte replay of an envelope already received is refused.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shared.crypto.suites import PrivateKey, PublicKey, Suite, get_suite, suite_for_key
from shared.domain.canonical import canonical_json_of_data

SCHEMA_VERSION = 1  # of the body
WIRE_VERSION = 2  # of the envelope around it, as JSON
RAW_VERSION = 3  # the body as the HTTP request's body, the signature in headers
RAW_MEDIA_TYPE = "application/vnd.elicense.envelope+json"
RAW_HEADERS = {"alg": "X-Envelope-Alg", "kid": "X-Envelope-Kid", "sig": "X-Envelope-Signature"}
MAX_CLOCK_SKEW = timedelta(minutes=10)
ALGORITHMS = {"gm": "SM2-SM3", "intl": "ES256"}


class EnvelopeError(Exception):
    """An envelope that must not be applied: `code` is stable, `message` Chinese.

    `sender` is the sender the signature proved, for a refusal after the signature verified
    (wrong receiver, stale, malformed inside a signed body); None before: then the sender the
    body names is only a claim, and must not be held against that library.
    """

    def __init__(self, code: str, message: str, *, sender: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.sender = sender


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedEnvelope:
    envelope_id: str
    sender: str
    receiver: str
    stream: str
    sent_at: datetime
    events: list[dict[str, Any]]
    kid: str
    backlog: int = 0  # the sender's events pending behind these (informational)


def json_bytes(value: Any) -> bytes:
    """Compact JSON of `value`: orjson, or the standard encoder for what orjson refuses (an
    integer past 64 bits, a Decimal or a date in data built in Python)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return canonical_json_of_data(value)


def seal(
    *,
    key: PrivateKey,
    kid: str,
    sender: str,
    receiver: str,
    stream: str,
    events: Sequence[Mapping[str, Any]],
    now: datetime,
    extra: Mapping[str, Any] | None = None,
    version: int = WIRE_VERSION,
) -> dict[str, Any]:
    """Build and sign an envelope with the sender's key (`extra`: informational body fields,
    such as the sender's backlog, signed with the rest; `version`: the form, 1 for receivers
    not yet upgraded)."""
    return seal_wire(
        key=key,
        kid=kid,
        sender=sender,
        receiver=receiver,
        stream=stream,
        events=events,
        now=now,
        extra=extra,
        version=version,
    )[0]


def seal_wire(
    *,
    key: PrivateKey,
    kid: str,
    sender: str,
    receiver: str,
    stream: str,
    events: Sequence[Mapping[str, Any]],
    now: datetime,
    extra: Mapping[str, Any] | None = None,
    version: int = WIRE_VERSION,
) -> tuple[dict[str, Any], bytes]:
    """`seal`, and the envelope as JSON bytes to send."""
    return seal_encoded(
        key=key,
        kid=kid,
        sender=sender,
        receiver=receiver,
        stream=stream,
        events=[json_bytes(e) for e in events],
        now=now,
        extra=extra,
        version=version,
    )


def seal_encoded(
    *,
    key: PrivateKey,
    kid: str,
    sender: str,
    receiver: str,
    stream: str,
    events: Sequence[bytes],
    now: datetime,
    extra: Mapping[str, Any] | None = None,
    version: int = WIRE_VERSION,
) -> tuple[dict[str, Any], bytes]:
    """`seal_wire` of events that are JSON bytes already (a relay splices the outbox's own
    JSON text into them rather than parse and encode it again)."""
    if version not in (1, WIRE_VERSION, RAW_VERSION):
        raise ValueError(f"envelope version {version}: 1, {WIRE_VERSION} or {RAW_VERSION}")
    suite = suite_for_key(key)
    head = {
        "schema": SCHEMA_VERSION,
        "envelope_id": uuid.uuid4().hex,
        "sender": sender,
        "receiver": receiver,
        "stream": stream,
        "sent_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        **(extra or {}),
    }
    data = json_bytes(head)[:-1] + b',"events":[' + b",".join(events) + b"]}"
    if version == 1:
        return _seal_version_1(suite, key, kid, json.loads(data))
    signature = base64.b64encode(suite.sign(key, data)).decode()
    if version == RAW_VERSION:
        alg = ALGORITHMS[suite.name]
        return {"v": RAW_VERSION, "alg": alg, "kid": kid, "sig": signature, "data": data}, data
    envelope = {
        "v": WIRE_VERSION,
        "alg": ALGORITHMS[suite.name],
        "kid": kid,
        "sig": signature,
        "signed": base64.b64encode(data).decode(),
    }
    return envelope, orjson.dumps(envelope)


def _seal_version_1(
    suite: Suite, key: PrivateKey, kid: str, body: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """The older form: the body as JSON, signed in its canonical form."""
    data = canonical_json_of_data(body)
    envelope = {
        "body": body,
        "alg": ALGORITHMS[suite.name],
        "kid": kid,
        "sig": base64.b64encode(suite.sign(key, data)).decode(),
    }
    head = dumps({k: v for k, v in envelope.items() if k != "body"})
    return envelope, head[:-1] + b',"body":' + data + b"}"


def raw_request(envelope: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body that carry a version 3 envelope over HTTP."""
    headers = {"Content-Type": RAW_MEDIA_TYPE}
    headers.update({name: envelope[field] for field, name in RAW_HEADERS.items()})
    return headers, envelope["data"]


def as_version_2(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """A version 3 envelope in version 2's form, for a receiver older than version 3: the same
    signed bytes in base64 inside JSON, the same signature."""
    return {
        "v": WIRE_VERSION,
        "alg": envelope["alg"],
        "kid": envelope["kid"],
        "sig": envelope["sig"],
        "signed": base64.b64encode(envelope["data"]).decode(),
    }


def raw_envelope(header: Callable[[str], str | None], body: bytes) -> dict[str, Any]:
    """A version 3 envelope from an HTTP request: `header(name)` reads a request header (None
    when absent). A value that is not printable ASCII counts as absent: `open_envelope` refuses
    either as malformed before the key id reaches a query (PostgreSQL refuses NUL: a 500)."""
    fields: dict[str, Any] = {"v": RAW_VERSION, "data": body}
    for field, name in RAW_HEADERS.items():
        value = header(name)
        fields[field] = value if value and value.isascii() and value.isprintable() else None
    return fields


def envelope_body(envelope: Any, *, loads: Callable[[bytes], Any] = json.loads) -> dict[str, Any]:
    """The body of an envelope of either form, NOT verified (what it claims, for a refusal's
    record, an operator's drill or a test); {} when there is none to read."""
    if not isinstance(envelope, dict):
        return {}
    if not _carries_bytes(envelope):
        body = envelope.get("body")
        return body if isinstance(body, dict) else {}
    try:
        body = loads(_signed_bytes(envelope))
    except Exception:  # noqa: BLE001 - unreadable is only unreadable here
        return {}
    return body if isinstance(body, dict) else {}


def with_body(envelope: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """`envelope` carrying `body` in its place, the signature left as it was: a body changed on
    the way (tests and drills show the receiver refuses it)."""
    if envelope.get("v") == RAW_VERSION:
        return {**envelope, "data": json_bytes(body)}
    if "signed" not in envelope:
        return {**envelope, "body": dict(body)}
    return {**envelope, "signed": base64.b64encode(json_bytes(body)).decode()}


def _suite_for_alg(alg: str) -> Suite:
    for name, value in ALGORITHMS.items():
        if value == alg:
            return get_suite(name)
    raise EnvelopeError("exchange.bad_algorithm", "不支持的签名算法")


def _signed_body(
    envelope: Any, loads: Callable[[bytes], Any]
) -> tuple[dict[str, Any], Callable[[], bytes]]:
    """The body and how to get the bytes its signature covers, by the envelope's form."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("exchange.malformed", "交换信封格式错误")
    if _carries_bytes(envelope):
        data = _signed_bytes(envelope)
        try:
            body = loads(data)
        except (ValueError, TypeError) as exc:
            raise EnvelopeError("exchange.malformed", "交换信封无法解析") from exc
        if not isinstance(body, dict):
            raise EnvelopeError("exchange.malformed", "交换信封格式错误")
        return body, lambda: data
    body = envelope.get("body")
    if not isinstance(body, dict):
        raise EnvelopeError("exchange.malformed", "交换信封格式错误")
    return body, lambda: canonical_json_of_data(body)


def _carries_bytes(envelope: dict[str, Any]) -> bool:
    """Version 2 or 3: the signature covers the body's bytes as sent."""
    return "signed" in envelope or envelope.get("v") == RAW_VERSION


def _signed_bytes(envelope: dict[str, Any]) -> bytes:
    """The bytes a version 2 or 3 envelope's signature covers (its body's JSON)."""
    if envelope.get("v") == RAW_VERSION:
        data = envelope.get("data")
        if not isinstance(data, bytes):  # version 3 comes only as an HTTP body, never in JSON
            raise EnvelopeError("exchange.malformed", "交换信封格式错误")
        return data
    signed = envelope["signed"]
    if envelope.get("v") != WIRE_VERSION or not isinstance(signed, str):
        raise EnvelopeError("exchange.malformed", "交换信封格式错误")
    try:
        return base64.b64decode(signed, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("exchange.malformed", "交换信封无法解析") from exc


def open_envelope(
    envelope: Any,
    *,
    resolve_key: Callable[[str, str], PublicKey | None],
    receiver: str,
    now: datetime,
    loads: Callable[[bytes], Any] = json.loads,
) -> OpenedEnvelope:
    """Check shape, signature, receiver and clock of an envelope; return its content.

    `resolve_key(sender, kid)` returns the registered public key of that sender, or None.
    `loads` parses a version 2 body (the receiver's own input guard); a ValueError or
    TypeError from it refuses the envelope as malformed.
    """
    body, signed_bytes = _signed_body(envelope, loads)
    alg, kid, sig = envelope.get("alg"), envelope.get("kid"), envelope.get("sig")
    if not (isinstance(alg, str) and alg and isinstance(kid, str) and kid):
        raise EnvelopeError("exchange.malformed", "交换信封缺少签名信息")
    if not (isinstance(sig, str) and sig):
        raise EnvelopeError("exchange.malformed", "交换信封缺少签名信息")
    sender = body.get("sender")
    events = body.get("events")
    if not isinstance(sender, str) or not isinstance(events, list):
        raise EnvelopeError("exchange.malformed", "交换信封缺少发送方或事件")
    suite = _suite_for_alg(alg)
    public_key = resolve_key(sender, kid)
    if public_key is None or not suite.owns(public_key):
        raise EnvelopeError("exchange.unknown_key", "发送方或其密钥未登记")
    try:
        signature = base64.b64decode(sig, validate=True)
        data = signed_bytes()
    except (binascii.Error, ValueError, TypeError) as exc:
        raise EnvelopeError("exchange.malformed", "交换信封无法解析") from exc
    if not suite.verify(public_key, signature, data):
        raise EnvelopeError("exchange.bad_signature", "交换信封签名验证失败")
    # From here on the sender is proven by its signature.
    return _checked(body, sender=sender, receiver=receiver, kid=kid, now=now)


def _checked(
    body: dict[str, Any], *, sender: str, receiver: str, kid: str, now: datetime
) -> OpenedEnvelope:
    if body.get("receiver") != receiver:
        raise EnvelopeError("exchange.wrong_receiver", "交换信封的接收方不是本库", sender=sender)
    try:
        sent_at = datetime.fromisoformat(str(body.get("sent_at")).replace("Z", "+00:00"))
    except ValueError as exc:
        raise EnvelopeError(
            "exchange.malformed", "交换信封发送时间格式错误", sender=sender
        ) from exc
    if sent_at.tzinfo is None or abs(now - sent_at) > MAX_CLOCK_SKEW:
        raise EnvelopeError(
            "exchange.stale", "交换信封发送时间与本地时钟相差过大（可能是重放）", sender=sender
        )
    envelope_id = body.get("envelope_id")
    stream = body.get("stream")
    if not isinstance(envelope_id, str) or not isinstance(stream, str):
        raise EnvelopeError("exchange.malformed", "交换信封缺少编号或流", sender=sender)
    events = body["events"]
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
            raise EnvelopeError("exchange.malformed", "交换事件缺少序号", sender=sender)
    backlog = body.get("backlog", 0)
    return OpenedEnvelope(
        envelope_id=envelope_id,
        sender=sender,
        receiver=receiver,
        stream=stream,
        sent_at=sent_at,
        events=events,
        kid=kid,
        backlog=backlog if isinstance(backlog, int) and backlog >= 0 else 0,
    )


def dumps(envelope: Mapping[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
