"""How many events the relay puts in its next envelope on a stream.

A backlog drains faster in big envelopes (bench/sync, the hub draining 2 × 2,000 licences: 200
events per envelope 2,604 licences/s, 500 3,492/s, 1,000 3,816/s: fewer round trips, each
envelope's fixed costs spread), but an envelope the receiver cannot apply within the HTTP
timeout is sent again and again (bench/province at load 24: 200 events took a busy hub over
30 s). So the size follows the receiver: it doubles after a full envelope answered quickly and
halves after a slow answer, or a failure that came slowly (a timeout). A failure that comes at
once (the receiver down, refusing connections, or busy) says nothing about the size: a hub
back from an outage gets the envelopes it would have got before. A stream's size is kept on
its `StreamState` row and every run starts from it: Celery's prefork children each ran some
of a stream's runs, and one that had not grown it itself began again at FEDERATION_BATCH_SIZE
(bench/sync: a drain of 5,000 sent 2,800 of them in envelopes of 200 to 800). A stream that
never learned one starts from FEDERATION_BATCH_SIZE.
"""

from dataclasses import dataclass

from django.conf import settings

_SIZES: dict[str, int] = {}


@dataclass(frozen=True, slots=True)
class Sizing:
    start: int  # FEDERATION_BATCH_SIZE: a stream's first envelope
    floor: int  # FEDERATION_BATCH_MIN
    ceiling: int  # FEDERATION_BATCH_MAX
    slow: float  # seconds: an answer this late halves the size (a third of the read timeout)

    def after_ack(self, size: int, *, events: int, seconds: float) -> int:
        if seconds >= self.slow:
            return max(self.floor, size // 2)
        if events >= size and seconds < self.slow / 4:
            return min(self.ceiling, size * 2)
        return size

    def after_failure(self, size: int, *, seconds: float) -> int:
        return max(self.floor, size // 2) if seconds >= self.slow else size


def sizing() -> Sizing:
    start = settings.FEDERATION_BATCH_SIZE
    return Sizing(
        start=start,
        floor=min(settings.FEDERATION_BATCH_MIN, start),
        ceiling=max(settings.FEDERATION_BATCH_MAX, start),
        slow=settings.FEDERATION_HTTP_TIMEOUT[1] / 3,
    )


def envelope_size(stream: str) -> int:
    rule = sizing()
    return min(rule.ceiling, max(rule.floor, _SIZES.get(stream) or rule.start))


def learned(stream: str, size: int | None) -> None:
    """`stream`'s size as a relay last left it (its `StreamState` row), or nothing learned."""
    if size:
        _SIZES[stream] = size
    else:
        _SIZES.pop(stream, None)


def resize(stream: str, read_with: int, *, events: int, seconds: float, failed: bool) -> int | None:
    """After an envelope read with size `read_with` was answered, or `failed`, in `seconds`:
    the new size, or None when it stays. An envelope signed ahead under an older size does not
    count towards growing."""
    rule, size = sizing(), envelope_size(stream)
    if failed:
        new = rule.after_failure(size, seconds=seconds)
    elif read_with == size:
        new = rule.after_ack(size, events=events, seconds=seconds)
    else:
        return None
    _SIZES[stream] = new
    return new if new != size else None


def forget() -> None:
    """Every stream back to FEDERATION_BATCH_SIZE (tests that change the settings)."""
    _SIZES.clear()
