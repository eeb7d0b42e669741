"""The governor's Lua scripts (:mod:`fleet.governor`): one atomic step each, on the fleet's Redis.

Both read the server's clock (``TIME``), so workers on machines whose clocks disagree still share
one schedule. Numbers go back to the client as strings: Redis truncates a Lua number to an integer.

A key's state is one hash: ``rate`` (calls a second the fleet is held to), ``tat_r`` (when the
next call may start), ``lvl`` and ``lvl_at`` (the tokens bucket: a minute's worth when full,
refilled at the per-minute figure / 60 a second, as Bedrock's), ``cut_at`` (the last cut),
``ss`` (0 once slow start is over), success counts of the current and the previous second
(``win_at``, ``win_n``, ``prev_n``): the rate Bedrock actually delivered, and admission counts of
the current and the previous second (``adm_at``, ``adm_n``, ``adm_prev``): the rate the fleet
actually asked for, which bounds how far the rate may grow.
"""

from __future__ import annotations

#: Reserve the next start time if it falls within the horizon: on the schedule of one call an
#: interval (up to a tolerance ahead of it, as GCRA allows a burst; never more than one second
#: of the rate holds, less one call), and once the tokens
#: bucket holds the call's reservation (a full bucket admits any call). The reservation is the
#: reserved tokens with their input estimate scaled by the key's calibration (``in_ratio``,
#: what Bedrock counted for the input over what was estimated; 1 until a call settles). A call
#: admitted with tokens to spare for another like it wakes the next waiter. KEYS: state, wake
#: list. ARGV: reserved tokens, horizon, ceiling (calls a second, 0: none), tokens a second
#: (0: none), initial rate, ttl, bucket seconds, burst tolerance (seconds), input estimate (part
#: of the reserved tokens), wake list length.
#: In slow start an admission grows the rate by one call a second (a 429 comes back at once,
#: whatever the call's latency, so growth need not wait for the call to end: at 4 s a call, growth
#: by completions took 24 s to reach 250 calls a second), but never past twice the admissions of
#: the current or the previous second, plus one: a rate grows only while the fleet uses it, so it
#: at most doubles a second, and never collapses when the fleet pauses. ARGV[11]: max rate.
#: Returns {admitted 0/1, wait, rate, start, now, tokens bound 0/1, reservation}: the wait of a
#: call the tokens bucket holds back is only an upper bound, since settlements give tokens back,
#: so such a call is never admitted ahead (it would sleep through them): it waits to be woken.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost, horizon = tonumber(ARGV[1]), tonumber(ARGV[2])
local ceiling, tps = tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'rate', 'tat_r', 'lvl', 'lvl_at', 'in_ratio', 'ss',
  'adm_at', 'adm_n', 'adm_prev')
local estimate = tonumber(ARGV[9])
if tps > 0 and estimate > 0 and s[5] then
  cost = cost - estimate + math.ceil(estimate * tonumber(s[5]))
end
local rate = tonumber(s[1]) or tonumber(ARGV[5])
if ceiling > 0 and rate > ceiling then rate = ceiling end
local tat = math.max(now, tonumber(s[2]) or now)
local tolerance = math.max(0, math.min(tonumber(ARGV[8]), 1 - 1 / rate))
local start = math.max(now, tat - tolerance)
local lvl, bound = 0, 0
if tps > 0 then
  local cap = tps * tonumber(ARGV[7])
  lvl = math.min(cap, (tonumber(s[3]) or cap) + (now - (tonumber(s[4]) or now)) * tps)
  if lvl < cost and lvl < cap and now + (cost - lvl) / tps > start then
    start, bound = now + (cost - lvl) / tps, 1
  end
end
if start - now > horizon or bound == 1 then
  return {0, tostring(start - now), tostring(rate), tostring(start), tostring(now), bound, cost}
end
local tat_next = math.max(tat, start) + 1 / rate
local adm_at, adm_prev = tonumber(s[7]) or now, tonumber(s[9]) or 0
local adm_n = (tonumber(s[8]) or 0) + 1
if now - adm_at >= 1 then
  if now - adm_at < 2 then adm_prev = adm_n - 1 else adm_prev = 0 end
  adm_at, adm_n = now, 1
end
if s[6] ~= '0' then
  local room = math.max(tonumber(ARGV[5]), 2 * math.max(adm_prev, adm_n)) + 1
  rate = math.max(rate, math.min(rate + 1, room))
  if ceiling > 0 and rate > ceiling then rate = ceiling end
  rate = math.min(rate, tonumber(ARGV[11]))
end
redis.call('HSET', KEYS[1], 'rate', rate, 'tat_r', tat_next, 'adm_at', adm_at, 'adm_n', adm_n,
  'adm_prev', adm_prev)
if tps > 0 then
  redis.call('HSET', KEYS[1], 'lvl', lvl - cost, 'lvl_at', now)
  if lvl - cost >= cost then
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[10]) - 1)
    redis.call('EXPIRE', KEYS[2], ARGV[6])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, tostring(start - now), tostring(rate), tostring(start), tostring(now), bound, cost}
"""

#: Settle a call: give back the tokens it did not use, count a success (and, after slow start, grow
#: the rate by alpha a second while the fleet uses it: never past twice the admissions of the
#: current or the previous second, plus one; slow start grows at admission), or cut the rate for a
#: throttle of a call admitted after the last cut, at most once per cut spacing: to what Bedrock
#: delivered in the last second (at most 0.95 of the rate), or to beta times the rate if that is
#: higher. KEYS: state.
#: Tokens given back wake the first waiter on the wake list; a success whose input estimate and
#: count are known calibrates the key's input estimate (``in_ratio``): up at once to a higher
#: count (a reservation too small is the risk), down by a weight a call towards a lower one.
#: KEYS: state, wake list. ARGV: outcome (ok, throttled, other), admitted at, tokens to give
#: back, tokens a second, ceiling, initial, min rate, max rate, beta, alpha, ttl, bucket seconds,
#: cut spacing, input estimate (0: none), input counted (-1: unknown), calibration weight,
#: wake list length. Returns {cut 0/1, rate}.
SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local outcome, admitted = ARGV[1], tonumber(ARGV[2])
local refund, tps, ceiling = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local lowest, highest = tonumber(ARGV[7]), tonumber(ARGV[8])
local s = redis.call('HMGET', KEYS[1], 'rate', 'cut_at', 'ss', 'win_at', 'win_n', 'prev_n',
  'lvl', 'lvl_at', 'in_ratio', 'adm_at', 'adm_n', 'adm_prev')
local rate = tonumber(s[1]) or tonumber(ARGV[6])
local cut_at, slow = tonumber(s[2]) or 0, s[3] ~= '0'
local win_at, win_n, prev_n = tonumber(s[4]) or now, tonumber(s[5]) or 0, tonumber(s[6]) or 0
if now - win_at >= 1 then
  if now - win_at < 2 then prev_n = win_n else prev_n = 0 end
  win_at, win_n = now, 0
end
local cut = 0
local estimate, counted = tonumber(ARGV[14]), tonumber(ARGV[15])
if outcome == 'ok' and estimate > 0 and counted >= 0 then
  local ratio, sample = tonumber(s[9]) or 1, counted / estimate
  if sample < ratio then sample = ratio + (sample - ratio) * tonumber(ARGV[16]) end
  redis.call('HSET', KEYS[1], 'in_ratio', sample)
end
if outcome == 'ok' then
  win_n = win_n + 1
  if not slow then
    local adm_at, asked = tonumber(s[10]) or 0, 0
    if now - adm_at < 1 then asked = math.max(tonumber(s[11]) or 0, tonumber(s[12]) or 0)
    elseif now - adm_at < 2 then asked = tonumber(s[11]) or 0 end
    local room = math.max(tonumber(ARGV[6]), 2 * asked) + 1
    rate = math.max(rate, math.min(rate + tonumber(ARGV[10]) / rate, room))
  end
elseif outcome == 'throttled' and admitted > cut_at and now - cut_at >= tonumber(ARGV[13]) then
  local target = math.max(rate * tonumber(ARGV[9]), math.min(prev_n, rate * 0.95))
  rate, cut_at, slow, cut = target, now, false, 1
end
if ceiling > 0 and rate > ceiling then rate = ceiling end
rate = math.max(lowest, math.min(highest, rate))
redis.call('HSET', KEYS[1], 'rate', rate, 'cut_at', cut_at, 'ss', slow and 1 or 0,
  'win_at', win_at, 'win_n', win_n, 'prev_n', prev_n)
local lvl = tonumber(s[7])
if tps > 0 and refund ~= 0 and lvl then
  local cap = tps * tonumber(ARGV[12])
  lvl = math.min(cap, lvl + (now - tonumber(s[8])) * tps + refund)
  redis.call('HSET', KEYS[1], 'lvl', lvl, 'lvl_at', now)
  if refund > 0 then
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[17]) - 1)
    redis.call('EXPIRE', KEYS[2], ARGV[11])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[11])
return {cut, tostring(rate)}
"""
