"""Which queue a message was taken from: the consumer tag it was delivered under, never what the
message says. The real worker on Redis and RabbitMQ is in tests/integration/test_review_holes.py
(a bound message copied onto another region's queue fails nothing)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workers.arrival import queue_of, tagged


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


def test_the_queue_is_the_one_whose_consumer_holds_the_tag_or_none():
    consumer = SimpleNamespace(_active_tags={"baton.eu-west-1": "t1", "baton.ap-southeast-2": "t2"})

    def message(delivery):
        return SimpleNamespace(delivery_info=delivery)

    assert queue_of(consumer, message({"consumer_tag": "t2"})) == "baton.ap-southeast-2"
    assert queue_of(consumer, message({"consumer_tag": "t3"})) is None  # a consumer since gone
    assert queue_of(consumer, message({})) is None
    assert queue_of(consumer, message(None)) is None
    assert queue_of(SimpleNamespace(), message({"consumer_tag": "t1"})) is None
