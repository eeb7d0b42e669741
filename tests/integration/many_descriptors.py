"""Imported by a test worker (``--include``): hold 1,100 descriptors open for the process's
life, so that every socket the worker opens afterwards (broker, backend, Bedrock) is numbered
above 1,024, where ``select()`` refuses to go."""

from __future__ import annotations

import os
import resource

HELD = 1100

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < 2 * HELD:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(2 * HELD, hard), hard))
descriptors = [os.open(os.devnull, os.O_RDONLY) for _ in range(HELD)]
