"""Delivery bookkeeping: what makes a job run once, and never get lost, on any broker.

- :mod:`.guard`: late acknowledgement settings and the per-job guard (stored result, hand-off
  mark, job lock) that makes a redelivered copy harmless.
- :mod:`.lock`: the per-job lock and the thread that keeps held locks alive.
- :mod:`.backend`: the workers' result backend, whose every command survives a dropped connection.
- :mod:`.budget`: a job tree's ``max_jobs`` budget and each job's children.
- :mod:`.recovery`: on a Redis broker, leases on in-flight messages and the reaper of lost ones.
"""
