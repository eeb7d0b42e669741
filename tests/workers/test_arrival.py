"""Which queue a message was taken from: the consumer tag it was delivered under, never what the
message says. The real worker on Redis and RabbitMQ is in tests/integration/test_review_holes.py
(a bound message copied onto another region's queue fails nothing)."""

from __future__ import annotations

from types import SimpleNamespace

import amqp
import pytest

from workers.arrival import TAGS_DELIVERIES, queue_of, tagged


@pytest.mark.parametrize(
    "said",
    [{"routing_key": "baton.eu-west-1", "consumer_tag": "the-other-regions"}, None, "nonsense"],
)
def test_a_redis_delivery_is_told_the_consumer_tag_it_was_delivered_under(said):
    delivered: list = []
    on_message = tagged(delivered.append, "tag-eu")
    on_message(SimpleNamespace(delivery_info=said))
    assert [m.delivery_info["consumer_tag"] for m in delivered] == ["tag-eu"]
    if isinstance(said, dict):
        assert delivered[0].delivery_info["routing_key"] == "baton.eu-west-1"  # the rest kept


#: A channel that tags its deliveries itself, as the worker's Redis channel does.
TAGGING = SimpleNamespace(**{TAGS_DELIVERIES: True})


def test_the_queue_is_the_one_whose_consumer_holds_the_tag_or_none():
    consumer = SimpleNamespace(_active_tags={"baton.eu-west-1": "t1", "baton.ap-southeast-2": "t2"})

    def message(delivery):
        return SimpleNamespace(delivery_info=delivery, channel=TAGGING)

    assert queue_of(consumer, message({"consumer_tag": "t2"})) == "baton.ap-southeast-2"
    assert queue_of(consumer, message({"consumer_tag": "t3"})) is None  # a consumer since gone
    assert queue_of(consumer, message({})) is None
    assert queue_of(consumer, message(None)) is None
    assert queue_of(SimpleNamespace(), message({"consumer_tag": "t1"})) is None


def test_a_tag_only_the_sender_could_have_set_names_no_queue():
    """On a virtual transport that does not tag its deliveries, the tag is the message's own
    property, and Celery's are predictable: ``None1`` is the first queue's."""
    consumer = SimpleNamespace(_active_tags={"baton.eu-west-1": "None1"})
    for channel in (SimpleNamespace(), None):
        said = SimpleNamespace(delivery_info={"consumer_tag": "None1"}, channel=channel)
        assert queue_of(consumer, said) is None
    broker = amqp.Channel.__new__(amqp.Channel)  # py-amqp's: the tag is the broker's
    told = SimpleNamespace(delivery_info={"consumer_tag": "None1"}, channel=broker)
    assert queue_of(consumer, told) == "baton.eu-west-1"
