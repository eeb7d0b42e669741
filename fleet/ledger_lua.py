"""The publish ledger's Lua scripts (``fleet.ledger``), one server-side step each, and how they
are run: by SHA, loaded on first use.
"""

from __future__ import annotations

from typing import Any

#: Push a message and write its entry, in one script call: as cheap for the client as the bare
#: LPUSH it replaces. KEYS: queue list, ledger, index. ARGV: message, tag, now.
PUT = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], KEYS[1] .. '\\0' .. ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
"""

#: Acknowledge: kombu's two unacknowledged records and the ledger's two, in one script call (kombu
#: sends a MULTI of two). KEYS: unacked index, unacked, ledger, index. ARGV: tag.
ACK = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
"""

#: Find entries older than the grace period that are neither queued nor unacknowledged. The first
#: pass that finds one marks it a suspect; a pass at least a grace period later that finds it so
#: again returns it as lost, with its queue and message. An entry seen anywhere is cleared.
#: Suspects and counts of messages acknowledged since are swept out, a hundred a pass.
#: A pass looks at ``limit`` entries from a cursor kept in Redis and the next pass goes on from
#: there, back to the oldest once it reaches the end: entries that stay (queued, held, or put
#: there to pin the scan) cannot keep the pass from the rest; a cursor that is not a whole
#: number a pass could have written starts again from the oldest. An entry that cannot be read (no
#: separator, an empty queue name, a queue key that is not a list) is dropped from the ledger
#: alone and returned as bad, with its reason, so the rest of the pass goes on.
#: KEYS: ledger, index, suspects, unacked, recoveries, cursor. ARGV: now, older-than, limit, grace.
#: Returns {lost: tag, queue, message, ...; bad: tag, reason, ...}.
FIND_LOST = """
local start = tonumber(redis.call('GET', KEYS[6])) or 0
if start ~= start or start < 0 or start >= 2^53 or start ~= math.floor(start) then
  start = 0  -- a cursor no pass wrote (1.5, inf, nan): LIMIT would refuse it every pass
end
local tags = redis.call('ZRANGE', KEYS[2], '-inf', ARGV[2], 'BYSCORE', 'LIMIT', start, ARGV[3])
local lost, bad, gone = {}, {}, 0
local function drop(tag, reason)
  redis.call('HDEL', KEYS[1], tag)
  redis.call('ZREM', KEYS[2], tag)
  redis.call('ZREM', KEYS[3], tag)
  gone = gone + 1
  table.insert(bad, tag)
  table.insert(bad, reason)
end
for _, tag in ipairs(tags) do
  local entry = redis.call('HGET', KEYS[1], tag)
  if not entry then
    redis.call('ZREM', KEYS[2], tag)
    redis.call('ZREM', KEYS[3], tag)
    gone = gone + 1
  elseif redis.call('HEXISTS', KEYS[4], tag) == 1 then
    redis.call('ZREM', KEYS[3], tag)
  else
    local cut = string.find(entry, '\\0', 1, true)
    if not cut then
      drop(tag, 'no separator between queue and message')
    elseif cut == 1 then
      drop(tag, 'an empty queue name')
    else
      local queue = string.sub(entry, 1, cut - 1)
      local message = string.sub(entry, cut + 1)
      local found = redis.pcall('LPOS', queue, message, 'RANK', -1)
      if type(found) == 'table' and found.err then
        drop(tag, 'its queue key is not a list')
      elseif found then
        redis.call('ZREM', KEYS[3], tag)
      else
        local seen = redis.call('ZSCORE', KEYS[3], tag)
        if not seen then
          redis.call('ZADD', KEYS[3], ARGV[1], tag)
        elseif tonumber(ARGV[1]) - tonumber(seen) >= tonumber(ARGV[4]) then
          table.insert(lost, tag)
          table.insert(lost, queue)
          table.insert(lost, message)
        end
      end
    end
  end
end
if #tags < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[6], 0)
else
  redis.call('SET', KEYS[6], start + #tags - gone)
end
for _, key in ipairs({KEYS[3], KEYS[5]}) do
  for _, tag in ipairs(redis.call('ZRANGE', key, 0, 99)) do
    if redis.call('HEXISTS', KEYS[1], tag) == 0 then
      redis.call('ZREM', key, tag)
    end
  end
end
return {lost, bad}
"""

#: Put a lost message back at the head of its queue, if it is still lost and has been put back
#: fewer than the limit of times; returns the count so far, or 0 when it was not lost after all.
#: Over the limit it leaves the ledger and returns -1. KEYS: ledger, index, suspects, unacked,
#: recoveries. ARGV: tag, queue, message as found, message to push, now, limit.
REPUBLISH = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry ~= ARGV[2] .. '\\0' .. ARGV[3] or redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1
   or redis.call('LPOS', ARGV[2], ARGV[3], 'RANK', -1) then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
local count = tonumber(redis.call('ZINCRBY', KEYS[5], 1, ARGV[1]))
if count > tonumber(ARGV[6]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  return -1
end
redis.call('RPUSH', ARGV[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\0' .. ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return count
"""


#: One handle per script, whichever client runs it (Celery gives every pool thread a backend, and
#: so a Redis client, of its own); redis-py sends each by its SHA and loads it on NOSCRIPT.
_SCRIPTS: dict[str, Any] = {}


def run_script(client: Any, source: str, keys: list[Any], args: list[Any]) -> Any:
    """Run a Lua script by its SHA on ``client``, loading it into that server the first time."""
    script = _SCRIPTS.get(source)
    if script is None:
        script = _SCRIPTS.setdefault(source, client.register_script(source))
    return script(keys=keys, args=args, client=client)
