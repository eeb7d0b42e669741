"""How a message carrying an envelope travels: the fleet's connection, routing, stamping, ledger.

Usage::

    from fleet import PUBLISH_OPTIONS, FleetConnection, PublishingApp, celery_settings
    from fleet import ledger_transport, propagating_envelope

    class ProducerSettings(FleetConnection, BaseSettings): ...   # BATON_BROKER_URL, keys, ...

    class ProducerCelery(PublishingApp, Celery): ...              # its publishes are Baton's

    app = ProducerCelery("baton-orchestrator", broker=settings.broker_url)
    app.conf.update({
        **celery_settings(current=propagating_envelope),         # route by envelope region
        "broker_transport_options": dict(PUBLISH_OPTIONS),
        "broker_transport": ledger_transport(settings.broker_url),  # on Redis: the ledger
    })

The producer (``orchestrator``) and the consumer (``workers``) build their Celery apps from this,
so a parent and a worker given the same environment agree on the broker, the result backend, the
keys and the Celery settings by construction. Here too: the router and the context variable of a
parent's ``propagating()`` block, header stamping of the signatures a message embeds, the publish
ledger (a kombu Redis transport, with its Lua scripts and ``run_script``), and the cap on the
secret-bearing loggers every parent and worker process applies. And how every Bedrock call waits
its turn: the fleet-wide governor of each quota (:mod:`fleet.governor`), keyed as Bedrock keys
quotas (:mod:`fleet.tickets`), with the quotas operators configure (:mod:`fleet.quotas`), what
a request draws on them (:mod:`fleet.calls`) and the marks of the jobs that wait
(:mod:`fleet.waiting`)::

    governor = Governor(redis_client, quotas=QuotaTable.parse(os.environ["BATON_BEDROCK_QUOTAS"]))
    ticket = governor.admit(key, reserved_tokens=n, max_wait=600)
    ...  # send the call
    governor.settle(ticket, outcome="ok", used_tokens=usage_total)

What travels, the envelope itself, is ``envelope``'s; this package imports it, kombu and pydantic,
and nothing else of Baton's. They import it from here, never from a submodule.
"""

from fleet.calls import input_tokens, quota_key, request_tokens, reserved_tokens, used_tokens
from fleet.connection import (
    BACKEND_RETRY_SETTINGS,
    DEFAULT_BROKER_URL,
    ENV_PREFIX,
    PUBLISH_OPTIONS,
    FleetConnection,
    celery_settings,
    redact_url,
    settings_problem,
)
from fleet.errors import AdmissionTimedOut, FleetError, QuotaConfigInvalid
from fleet.governor import Governor
from fleet.ledger import (
    LedgerChannel,
    LedgerQoS,
    LedgerTransport,
    drop_entry,
    find_lost,
    ledger_transport,
    republish,
    task_id_of,
)
from fleet.ledger_entries import lost_message, unacked_message
from fleet.ledger_lua import run_script
from fleet.logsafety import cap_secret_bearing_loggers
from fleet.quotas import ModelQuota, QuotaTable
from fleet.routing import (
    PROPAGATING,
    PublishingApp,
    baton_publishing,
    propagating_envelope,
    publishing_app,
)
from fleet.settlements import Settlements
from fleet.stamping import stamp_body
from fleet.tickets import Outcome, QuotaKey, Settled, Ticket
from fleet.turns import Turns
from fleet.waiting import mark_waiting, waiting_for, waiting_key

__all__ = [
    "BACKEND_RETRY_SETTINGS",
    "DEFAULT_BROKER_URL",
    "ENV_PREFIX",
    "PROPAGATING",
    "PUBLISH_OPTIONS",
    "AdmissionTimedOut",
    "FleetConnection",
    "FleetError",
    "Governor",
    "LedgerChannel",
    "LedgerQoS",
    "LedgerTransport",
    "ModelQuota",
    "Outcome",
    "PublishingApp",
    "QuotaConfigInvalid",
    "QuotaKey",
    "QuotaTable",
    "Settled",
    "Settlements",
    "Ticket",
    "Turns",
    "baton_publishing",
    "cap_secret_bearing_loggers",
    "celery_settings",
    "drop_entry",
    "find_lost",
    "input_tokens",
    "ledger_transport",
    "lost_message",
    "mark_waiting",
    "propagating_envelope",
    "publishing_app",
    "quota_key",
    "redact_url",
    "republish",
    "request_tokens",
    "reserved_tokens",
    "run_script",
    "settings_problem",
    "stamp_body",
    "task_id_of",
    "unacked_message",
    "used_tokens",
    "waiting_for",
    "waiting_key",
]
