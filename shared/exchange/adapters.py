"""The exchange adapter: how signed envelopes travel between libraries. Pure: no Django.

`send(envelope) -> Ack | None` and `status() -> int` are the whole protocol. `HttpAdapter` posts
to the receiver's envelopes endpoint and gets the receiver's high-water mark back at once;
`AmqpAdapter` publishes to a RabbitMQ exchange (as a provincial exchange bus would carry it),
where a worker at the receiver consumes and applies, and the sender learns the high-water mark
from `status()`. Failures are split the way the relay must treat them: `RetryableExchangeError`
(network, timeouts, 5xx, a gap the receiver reports) and `PermanentExchangeError` (the receiver
refuses the envelope itself: bad signature, unknown node, malformed).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from shared.exchange.envelopes import RAW_VERSION, as_version_2, dumps, raw_request


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    high_water_mark: int
    applied: int = 0
    duplicates: int = 0
    rejected: tuple[dict[str, Any], ...] = ()
    # The request ids of the events the receiver took (absent from an older receiver's answer).
    request_ids: tuple[str, ...] = ()


class ExchangeError(Exception):
    def __init__(
        self, code: str, message: str, *, expected: int | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.expected = expected
        self.status = status  # the receiver's HTTP status, when it answered


class RetryableExchangeError(ExchangeError):
    """Try again later: nothing was applied, or what was applied is acknowledged by status()."""


class PermanentExchangeError(ExchangeError):
    """The receiver will never accept this envelope as it is."""


class ExchangeAdapter(Protocol):
    name: str

    def send(self, envelope: dict[str, Any], *, wire: bytes | None = None) -> Ack | None: ...

    def status(self) -> int: ...


def _error_from_response(response: requests.Response) -> ExchangeError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or f"http.{response.status_code}")
    message = str(body.get("message") or response.reason or "")
    status = response.status_code
    if code == "exchange.gap":
        expected = body.get("detail", {}).get("expected")
        return RetryableExchangeError(code, message, expected=expected, status=status)
    if status >= 500 or status in (408, 429):
        return RetryableExchangeError(code, message, status=status)
    return PermanentExchangeError(code, message, status=status)


class HttpAdapter:
    """Envelopes over HTTP(S) to the receiver's `/api/v1/exchange/envelopes/`."""

    name = "http"

    def __init__(
        self,
        *,
        base_url: str,
        sender: str,
        envelopes_path: str,
        status_path: str,
        auth_token: Callable[[str, str], str],
        timeout: tuple[float, float] = (3.0, 30.0),
        cert: str | tuple[str, str] | None = None,
        verify: str | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.sender = sender
        self.envelopes_path = envelopes_path
        self.status_path = status_path
        # (method, url) → a request token bound to that request (bodiless calls only).
        self.auth_token = auth_token
        self.timeout = timeout
        self.session = requests.Session()
        # The client certificate the receiver's mTLS listener asks for; the CA bundle (or the
        # system store) that verifies the receiver. Given on each request, not on the session:
        # requests lets REQUESTS_CA_BUNDLE in the environment override a session's `verify`.
        self.cert = cert
        self.verify = verify
        self.json_only = False  # the receiver refused version 3 (older): send version 2

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                timeout=self.timeout,
                cert=self.cert,
                verify=self.verify,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise RetryableExchangeError("exchange.unreachable", f"无法连接接收方：{exc}") from exc
        if response.status_code >= 400:
            raise _error_from_response(response)
        return response

    def send(self, envelope: dict[str, Any], *, wire: bytes | None = None) -> Ack:
        """POST `envelope`; `wire`: its JSON bytes when the caller already has them. A version
        3 envelope is its body's bytes with the signature in headers; a receiver older than
        version 3 answers 415, and gets the same signed bytes as version 2 from then on (the
        signature covers the same bytes in both)."""
        if envelope.get("v") == RAW_VERSION and not self.json_only:
            headers, data = raw_request(envelope)
            try:
                response = self._call("POST", self.envelopes_path, data=data, headers=headers)
            except PermanentExchangeError as exc:
                if exc.status != 415:
                    raise
                self.json_only = True
                response = self._post_json(as_version_2(envelope), None)
        else:
            if envelope.get("v") == RAW_VERSION:
                envelope, wire = as_version_2(envelope), None
            response = self._post_json(envelope, wire)
        body = response.json()
        return Ack(
            high_water_mark=int(body["high_water_mark"]),
            applied=int(body.get("applied", 0)),
            duplicates=int(body.get("duplicates", 0)),
            rejected=tuple(body.get("rejected") or ()),
            request_ids=tuple(str(r)[:64] for r in body.get("request_ids") or () if r),
        )

    def _post_json(self, envelope: dict[str, Any], wire: bytes | None) -> requests.Response:
        data = wire if wire is not None else dumps(envelope)
        headers = {"Content-Type": "application/json"}
        return self._call("POST", self.envelopes_path, data=data, headers=headers)

    def status(self) -> int:
        response = self._call(
            "GET",
            self.status_path,
            params={"node": self.sender},
            headers={"X-Exchange-Token": self.auth_token("GET", self.base_url + self.status_path)},
        )
        return int(response.json()["high_water_mark"])


class AmqpAdapter:
    """Envelopes through a RabbitMQ exchange; acknowledgements come from `status()`."""

    name = "amqp"

    def __init__(
        self,
        *,
        url: str,
        exchange: str,
        routing_key: str,
        status_source: Callable[[], int],
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.routing_key = routing_key
        self.status_source = status_source
        self.timeout = timeout

    def send(self, envelope: dict[str, Any], *, wire: bytes | None = None) -> None:
        from kombu import Connection, Exchange, Queue

        exchange = Exchange(self.exchange_name, type="direct", durable=True)
        queue = Queue(f"{self.exchange_name}.{self.routing_key}", exchange, self.routing_key)
        try:
            with Connection(self.url, connect_timeout=self.timeout) as conn:
                producer = conn.Producer(serializer="json")
                producer.publish(
                    envelope,
                    exchange=exchange,
                    routing_key=self.routing_key,
                    declare=[queue],
                    delivery_mode=2,
                    retry=False,
                    timeout=self.timeout,
                )
        except Exception as exc:  # kombu raises many transport-specific errors
            raise RetryableExchangeError(
                "exchange.bus_unavailable", f"消息总线不可用：{exc}"
            ) from exc
        return

    def status(self) -> int:
        return self.status_source()
