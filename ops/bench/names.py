"""Names and settings shared by the harness and the worker-side modules; imports nothing."""

from typing import Any

#: Printed by every benchmark worker once it consumes: the harness waits for this line.
READY_MARKER = "BATON_BENCH_WORKER_READY"

#: The no-op on the Baton app (gated, published with a signed envelope).
BATON_NOOP_TASK = "bench.baton_noop"

#: The no-op on the plain Celery app, and the queue its worker consumes.
PLAIN_NOOP_TASK = "bench.plain_noop"
PLAIN_QUEUE = "bench.plain"

#: References for the I/O-bound measurement, on the plain app: a bare sleep of the emulator's
#: latency (Celery's own ceiling), and the one Converse call a subagent job makes, made with a
#: cached boto3 client and nothing of Baton's (Celery's and boto3's ceiling together).
PLAIN_SLEEP_TASK = "bench.plain_sleep"
PLAIN_CONVERSE_TASK = "bench.plain_converse"

#: The same call, acknowledged late and requeued if its worker dies, as a subagent job is: what
#: Baton's "nothing lost" costs a plain Celery task, apart from the envelope.
PLAIN_CONVERSE_LATE_TASK = "bench.plain_converse_late"

#: The region every benchmark job runs in; its queue is ``baton.<region>``.
REGION = "eu-west-1"

#: The settings that change what a worker does per task (serialisation, prefetch, the STARTED
#: write, transport options, logging setup), with the Baton app's values when this was written.
#: Each run reads the Baton app's current values (``appsettings.py``) and hands them to the plain
#: workers in this variable; these values are only the fallback for a plain worker started alone.
MIRRORED_SETTINGS: dict[str, Any] = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
    "worker_prefetch_multiplier": 1,
    "broker_transport_options": {
        "visibility_timeout": 60.0,
        "unacked_restore_interval": 15.0,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 15,
    },
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    "worker_soft_shutdown_timeout": 0.0,
    "task_track_started": False,
    "worker_hijack_root_logger": False,
    "broker_connection_retry_on_startup": True,
}

#: The environment variable that carries the Baton app's settings to plain workers, as JSON.
PLAIN_SETTINGS_VARIABLE = "BATON_BENCH_PLAIN_SETTINGS"
