"""`python manage.py hub exchange_consume`: apply envelopes arriving on the AMQP exchange bus.

Each message is acknowledged only after it is applied (or refused for good); a gap is
acknowledged and dropped, because the sender rewinds to the high-water mark it reads from the
status endpoint and sends again.
"""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from kombu import Connection, Exchange, Queue
from kombu.mixins import ConsumerMixin

from shared.core.errors import ApplicationError, RetryableError
from shared.federation.ingest import ingest_envelope

log = logging.getLogger(__name__)


class Worker(ConsumerMixin):
    def __init__(self, connection: Connection, queue: Queue) -> None:
        self.connection = connection
        self.queue = queue

    def get_consumers(self, Consumer, channel):  # noqa: N803
        return [
            Consumer(
                queues=[self.queue], callbacks=[self.on_message], accept=["json"], prefetch_count=1
            )
        ]

    def on_message(self, body, message):
        close_old_connections()
        try:
            result = ingest_envelope(body, transport="amqp")
            log.info(
                "applied=%s duplicates=%s hwm=%s",
                result.applied,
                result.duplicates,
                result.high_water_mark,
            )
        except RetryableError:
            message.requeue()
            return
        except ApplicationError as exc:
            log.warning("envelope refused: %s %s", exc.code, exc.message)
        except Exception:
            log.exception("envelope could not be applied; requeued")
            message.requeue()
            return
        message.ack()


class Command(BaseCommand):
    help = "从 AMQP 交换总线接收并应用交换信封"

    def handle(self, *args, **options):
        exchange = Exchange(settings.FEDERATION_AMQP_EXCHANGE, type="direct", durable=True)
        queue = Queue(
            f"{settings.FEDERATION_AMQP_EXCHANGE}.{settings.LIBRARY_CODE}",
            exchange,
            routing_key=settings.LIBRARY_CODE,
        )
        self.stdout.write(f"consuming {queue.name}")
        with Connection(settings.FEDERATION_AMQP_URL) as connection:
            Worker(connection, queue).run()
