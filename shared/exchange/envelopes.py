"""Signed envelopes between libraries (DESIGN §6). Pure: no Django.

An envelope carries an ordered batch of outbox events of one stream from one sender:

    {"body": {"envelope_id", "sender", "receiver", "stream", "sent_at", "events": [...]},
     "alg": "SM2-SM3" | "ES256", "kid": "<key id>", "sig": "<base64 DER signature>"}

The signature covers the canonical JSON of `body`, so any change to any event is detected
(`body` is JSON data at both ends: parsed from the request, or built from the outbox's JSON).
`envelope_id` is fresh for every attempt: a retry is a new envelope carrying the same events
(the receiver ignores events it already applied), while a byte-for-byte replay of an envelope
already received is refused.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.crypto.suites import PrivateKey, PublicKey, Suite, get_suite, suite_for_key
from shared.domain.canonical import canonical_json_of_data

SCHEMA_VERSION = 1
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
) -> dict[str, Any]:
    """Build and sign an envelope with the sender's key (`extra`: informational body fields,
    such as the sender's backlog, signed with the rest)."""
    return seal_wire(
        key=key,
        kid=kid,
        sender=sender,
        receiver=receiver,
        stream=stream,
        events=events,
        now=now,
        extra=extra,
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
) -> tuple[dict[str, Any], bytes]:
    """`seal`, and the envelope as JSON bytes to send, made from the very bytes just signed
    (serialising a large envelope a second time costs as much as canonicalising it)."""
    suite = suite_for_key(key)
    body = {
        "schema": SCHEMA_VERSION,
        "envelope_id": uuid.uuid4().hex,
        "sender": sender,
        "receiver": receiver,
        "stream": stream,
        "sent_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "events": list(events),
        **(extra or {}),
    }
    data = canonical_json_of_data(body)
    envelope = {
        "body": body,
        "alg": ALGORITHMS[suite.name],
        "kid": kid,
        "sig": base64.b64encode(suite.sign(key, data)).decode(),
    }
    head = dumps({k: v for k, v in envelope.items() if k != "body"})
    return envelope, head[:-1] + b',"body":' + data + b"}"


def _suite_for_alg(alg: str) -> Suite:
    for name, value in ALGORITHMS.items():
        if value == alg:
            return get_suite(name)
    raise EnvelopeError("exchange.bad_algorithm", "不支持的签名算法")


def open_envelope(
    envelope: Any,
    *,
    resolve_key: Callable[[str, str], PublicKey | None],
    receiver: str,
    now: datetime,
) -> OpenedEnvelope:
    """Check shape, signature, receiver and clock of an envelope; return its content.

    `resolve_key(sender, kid)` returns the registered public key of that sender, or None.
    """
    if not isinstance(envelope, dict) or not isinstance(envelope.get("body"), dict):
        raise EnvelopeError("exchange.malformed", "交换信封格式错误")
    body = envelope["body"]
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
        data = canonical_json_of_data(body)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise EnvelopeError("exchange.malformed", "交换信封无法解析") from exc
    if not suite.verify(public_key, signature, data):
        raise EnvelopeError("exchange.bad_signature", "交换信封签名验证失败")
    # From here on the sender is proven by its signature.
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
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
            raise EnvelopeError("exchange.malformed", "交换事件缺少序号", sender=sender)
    return OpenedEnvelope(
        envelope_id=envelope_id,
        sender=sender,
        receiver=receiver,
        stream=stream,
        sent_at=sent_at,
        events=events,
        kid=kid,
    )


def dumps(envelope: Mapping[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
