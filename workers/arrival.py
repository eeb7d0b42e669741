"""Which queue a message was taken from, as the worker saw it, never as the message says.

A binding (``envelope.binding``) ties a token to its message, not to a queue, and every Baton
publish goes to the queue of its envelope's region (``fleet.routing``). So a bound message taken
from any other queue is a copy someone pushed there, or one sent with ``queue=`` named outright.
Its refusal by the workers of that queue (another region's, or workers without its task) says
nothing of the job, whose own message may still be waiting on its queue: such a refusal is not
stored under the job's id (:func:`misplaced`, read by ``WorkerRuntime.binding_problem``).

The worker's consumer writes the queue into each task message's headers (:data:`ARRIVED_ON`),
over anything the sender put there. It names the queue by the consumer tag the message was
delivered under: the broker's own on RabbitMQ (py-amqp); on Redis, where kombu's delivery carries
only what its sender wrote, the tag the worker's channel gives it (:func:`tagged`). On any other
transport it names none, and no refusal there is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import amqp

from envelope import peek, queue_for

#: The request header naming the queue a message was taken from; None when the consumer could
#: not name it.
ARRIVED_ON = "baton_arrived_on"

#: The class attribute of a kombu channel that gives each delivery its consumer tag
#: (:func:`tagged`). Elsewhere kombu's virtual transports deliver the tag the message's own
#: properties carry, and Celery's tags are predictable (``None1``, ``None2``... in queue order):
#: the sender's word.
TAGS_DELIVERIES = "baton_tags_deliveries"


def tagged(callback: Callable[[Any], Any], consumer_tag: str) -> Callable[[Any], Any]:
    """``callback`` for a channel's consumer, telling each message the consumer tag it was
    delivered under (``delivery_info["consumer_tag"]``), over whatever its properties said."""

    def delivered(message: Any) -> Any:
        if not isinstance(message.delivery_info, dict):
            message.delivery_info = {}
        message.delivery_info["consumer_tag"] = consumer_tag
        return callback(message)

    return delivered


def queue_of(task_consumer: Any, message: Any) -> str | None:
    """The queue ``message`` was taken from, by its consumer tag among ``task_consumer``'s (a
    kombu ``Consumer``), or None: also when no party but the sender could have set the tag (a
    channel that is neither py-amqp's nor one that tags its deliveries)."""
    channel = getattr(message, "channel", None)
    if not (getattr(channel, TAGS_DELIVERIES, False) or isinstance(channel, amqp.Channel)):
        return None
    delivery = message.delivery_info
    tag = delivery.get("consumer_tag") if isinstance(delivery, dict) else None
    if not tag:
        return None
    tags = getattr(task_consumer, "_active_tags", None) or {}
    return next((queue for queue, active in tags.items() if active == tag), None)


def misplaced(request: Any, token: str) -> str | None:
    """Why a bound ``request`` was not taken from its envelope's region's queue, or None when it
    was. ``token``'s signature must have been verified."""
    region = peek(token).get("region")
    expected = queue_for(region) if isinstance(region, str) else None
    arrived = getattr(request, ARRIVED_ON, None)
    if arrived is not None and arrived == expected:
        return None
    where = f"queue {arrived}" if isinstance(arrived, str) else "a queue this worker cannot name"
    return (
        f"it was taken from {where}, not {expected}, where its envelope's region sends it (a "
        "copy pushed onto another queue, or published with queue= named outright)"
    )
