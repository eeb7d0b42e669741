"""The governor's Lua scripts (:mod:`fleet.governor`): one atomic step each, on the fleet's Redis.

Both read the server's clock (``TIME``), so workers on machines whose clocks disagree still share
one schedule. Numbers go back to the client as strings: Redis truncates a Lua number to an integer.

A key's state is one hash: ``rate`` (calls a second the fleet is held to), ``tat_r`` (when the
next call may start), ``lvl`` and ``lvl_at`` (the tokens bucket: a minute's worth when full,
refilled at the per-minute figure / 60 a second, as Bedrock's), ``cut_at`` (the last cut),
``ss`` (0 once slow start is over), ``knee`` (below it a cut rate grows back quickly, above it
it probes slowly), success counts of the current and the previous second (``win_at``,
``win_n``, ``prev_n``) and of a longer window (``dw_at``, ``dw_n``, ``dprev``: its rate), the
rate Bedrock actually delivered; admission counts of the current and the previous second
(``adm_at``, ``adm_n``, ``adm_prev``): the rate the fleet actually asked for, which bounds how
far the rate may grow; ``tps_l``, ``tcut_at`` and ``tp_at`` (the tokens a second
learned from Bedrock's "Too many tokens", its last cut and its last probe), and two spending
ledgers (``sa_at``, ``sa``, ``sb_at``, ``sb``: tokens reserved less tokens given back since each
began, restarted in turn every bucket's length) from which a tokens throttle learns the quota.
"""

from __future__ import annotations

#: Shared by both scripts: the spending ledgers. ``spend`` adds ``amount`` to the running total
#: (``sp``: an admission returns it as it was, for its settlement to tell what was spent after)
#: and to each ledger running
#: (restarting one a bucket's length old, the second half a bucket after the first, so one of
#: them always spans between half a bucket and a bucket); ``tokens_floor`` returns the least
#: tokens a second that could have paid for what each ledger spent, less ``later`` (what was
#: spent after the throttled call was admitted, which Bedrock had not seen): a bucket holds
#: ``span``
#: seconds of it and refills at it, so over ``w`` seconds no more than (span + w) x the quota a
#: second can be spent. That is the quota itself when the bucket was full as a ledger began.
_LEDGER = """
local function spend(key, now, amount, span)
  local l = redis.call('HMGET', key, 'sa_at', 'sa', 'sb_at', 'sb')
  local a_at, a, b_at, b = tonumber(l[1]) or -1, tonumber(l[2]) or 0, tonumber(l[3]) or -1,
    tonumber(l[4]) or 0
  if a_at >= 0 and now - a_at >= span then a_at = -1 end
  if b_at >= 0 and now - b_at >= span then b_at = -1 end
  if a_at < 0 and (b_at < 0 or now - b_at >= span / 2) then a_at, a = now, 0 end
  if b_at < 0 and now - a_at >= span / 2 then b_at, b = now, 0 end
  if a_at >= 0 then a = a + amount end
  if b_at >= 0 then b = b + amount end
  redis.call('HSET', key, 'sa_at', a_at, 'sa', a, 'sb_at', b_at, 'sb', b)
  redis.call('HINCRBYFLOAT', key, 'sp', amount)
end
local function tokens_floor(key, now, span, later)
  local l = redis.call('HMGET', key, 'sa_at', 'sa', 'sb_at', 'sb')
  local best = 0
  for i = 1, 3, 2 do
    local at, spent = tonumber(l[i]) or -1, tonumber(l[i + 1]) or 0
    if at >= 0 then best = math.max(best, (spent - later) / (span + now - at)) end
  end
  return best
end
"""

#: Reserve the next start time if it falls within the horizon: on the schedule of one call an
#: interval (up to a tolerance ahead of it, as GCRA allows a burst; never more than one second
#: of the rate holds, less one call), and once the tokens bucket holds the call's reservation (a
#: full bucket admits any call). The bucket is paced at the configured tokens a second, else at
#: those learned (``tps_l``), else not at all. The reservation is the reserved tokens with their
#: input estimate scaled by the key's calibration (``in_ratio``, what Bedrock counted for the
#: input over what was estimated; 1 until a call settles), and is spent on the ledgers where no
#: tokens quota is configured. A call admitted with tokens to spare for another like it wakes the
#: next waiter, and clears the call's waiting mark where one is named (the round trip that ends
#: its wait, not one more). KEYS: state, wake list[, waiting mark]. ARGV: reserved tokens,
#: horizon, ceiling (calls a second, 0: none), tokens a second (0: none), initial rate, ttl,
#: bucket seconds, burst tolerance
#: (seconds), input estimate (part of the reserved tokens), wake list length, max rate.
#: In slow start an admission grows the rate by one call a second (a 429 comes back at once,
#: whatever the call's latency, so growth need not wait for the call to end: at 4 s a call, growth
#: by completions took 24 s to reach 250 calls a second), but never past twice the admissions of
#: the current or the previous second, plus one: a rate grows only while the fleet uses it, so it
#: at most doubles a second, and never collapses when the fleet pauses.
#: Returns {admitted 0/1, wait, rate, start, now, tokens bound 0/1, reservation, spent before
#: (the running total as the call found it, 0 where no ledger is kept)}: the wait of a
#: call the tokens bucket holds back is only an upper bound, since settlements give tokens back,
#: so such a call is never admitted ahead (it would sleep through them): it waits to be woken.
ADMIT = (
    _LEDGER
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost, horizon = tonumber(ARGV[1]), tonumber(ARGV[2])
local ceiling, tps = tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'rate', 'tat_r', 'lvl', 'lvl_at', 'in_ratio', 'tps_l',
  'ss', 'adm_at', 'adm_n', 'adm_prev')
local configured = tps > 0
if not configured then tps = tonumber(s[6]) or 0 end
local estimate = tonumber(ARGV[9])
if estimate > 0 and s[5] then
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
  return {0, tostring(start - now), tostring(rate), tostring(start), tostring(now), bound, cost,
    '0'}
end
local tat_next = math.max(tat, start) + 1 / rate
local adm_at, adm_prev = tonumber(s[8]) or now, tonumber(s[10]) or 0
local adm_n = (tonumber(s[9]) or 0) + 1
if now - adm_at >= 1 then
  if now - adm_at < 2 then adm_prev = adm_n - 1 else adm_prev = 0 end
  adm_at, adm_n = now, 1
end
if s[7] ~= '0' then
  local room = math.max(tonumber(ARGV[5]), 2 * math.max(adm_prev, adm_n)) + 1
  rate = math.max(rate, math.min(rate + 1, room))
  if ceiling > 0 and rate > ceiling then rate = ceiling end
  rate = math.min(rate, tonumber(ARGV[11]))
end
redis.call('HSET', KEYS[1], 'rate', rate, 'tat_r', tat_next, 'adm_at', adm_at, 'adm_n', adm_n,
  'adm_prev', adm_prev)
local spent = 0
if not configured then
  spent = tonumber(redis.call('HGET', KEYS[1], 'sp')) or 0
  spend(KEYS[1], now, cost, tonumber(ARGV[7]))
end
if tps > 0 then
  redis.call('HSET', KEYS[1], 'lvl', lvl - cost, 'lvl_at', now)
  if lvl - cost >= cost then
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[10]) - 1)
    redis.call('EXPIRE', KEYS[2], ARGV[6])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
if KEYS[3] then redis.call('DEL', KEYS[3]) end
return {1, tostring(start - now), tostring(rate), tostring(start), tostring(now), bound, cost,
  tostring(spent)}
"""
)

#: Settle a call: give back the tokens it did not use (to the bucket and the ledgers), count a
#: success (and, after slow start, grow the rate while the fleet uses it, never past twice the
#: admissions of the current or the previous second, plus one: by alpha a second below the knee, by
#: the probe share of itself a second above it; slow start grows at admission), or cut the rate for
#: a throttle ("Too many requests") of a call admitted after the last cut, at most once per cut
#: spacing: out of slow start to what Bedrock delivered in the last second (at most 0.95 of the
#: rate, at least the slow-start beta of it); after it to the pace gain times what Bedrock delivered
#: over the longer window (at most 0.95 of the rate, at least beta of it). A cut below the knee
#: share of the rate sets the knee at the rate cut from; a smaller one at the rate cut to. A "Too
#: many tokens" throttle of a call admitted after the last such cut (as spaced) sets the bucket's
#: level to at most zero less what was spent since that call was admitted (Bedrock just said it is
#: short, and had not seen those) and, where no tokens quota is configured, learns one: the ledgers'
#: floor the first time, then at most the learned figure, cut by at most the tokens beta and never
#: below that floor; a success probes it up by the tokens probe share a second. A call Bedrock did
#: not count gives its reservation back to the bucket only if it started after the level was last
#: set: before, the bucket did not hold it (Bedrock's level, which the level was set to, never took
#: it). Tokens given back wake the first waiter on the wake list; a success whose input estimate and
#: count are known calibrates the key's input estimate (``in_ratio``): up at once to a higher count
#: (a reservation too small is the risk), down by a weight a call towards a lower one.
#: KEYS: state, wake list. ARGV: outcome (ok, throttled, throttled_tokens, other), admitted at,
#: tokens to give back, tokens a second, ceiling, initial, min rate, max rate, beta, alpha, ttl,
#: bucket seconds, cut spacing, input estimate (0: none), input counted (-1: unknown),
#: calibration weight, wake list length, slow-start beta, pace gain, knee share, probe share,
#: delivery window seconds, tokens beta, tokens probe share, spent before (what the admission
#: returned), started at. Returns {cut 0/1, rate}.
_SETTLE_BODY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local outcome, admitted = ARGV[1], tonumber(ARGV[2])
local refund, tps, ceiling = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local lowest, highest = tonumber(ARGV[7]), tonumber(ARGV[8])
local span, spacing = tonumber(ARGV[12]), tonumber(ARGV[13])
local s = redis.call('HMGET', KEYS[1], 'rate', 'cut_at', 'ss', 'win_at', 'win_n', 'prev_n',
  'lvl', 'lvl_at', 'in_ratio', 'knee', 'dw_at', 'dw_n', 'dprev', 'tps_l', 'tcut_at', 'tp_at',
  'sp', 'adm_at', 'adm_n', 'adm_prev')
local rate = tonumber(s[1]) or tonumber(ARGV[6])
local cut_at, slow = tonumber(s[2]) or 0, s[3] ~= '0'
local win_at, win_n, prev_n = tonumber(s[4]) or now, tonumber(s[5]) or 0, tonumber(s[6]) or 0
if now - win_at >= 1 then
  if now - win_at < 2 then prev_n = win_n else prev_n = 0 end
  win_at, win_n = now, 0
end
local window = tonumber(ARGV[22])
local dw_at, dw_n, dprev = tonumber(s[11]) or now, tonumber(s[12]) or 0, tonumber(s[13]) or 0
if now - dw_at >= window then
  if now - dw_at < 2 * window then dprev = dw_n / (now - dw_at) else dprev = 0 end
  dw_at, dw_n = now, 0
end
local knee, learned = tonumber(s[10]) or 0, tonumber(s[14])
local configured = tps > 0
if not configured then tps = learned or 0 end
local cut = 0
local estimate, counted = tonumber(ARGV[14]), tonumber(ARGV[15])
if outcome == 'ok' and estimate > 0 and counted >= 0 then
  local ratio, sample = tonumber(s[9]) or 1, counted / estimate
  if sample < ratio then sample = ratio + (sample - ratio) * tonumber(ARGV[16]) end
  redis.call('HSET', KEYS[1], 'in_ratio', sample)
end
if outcome == 'ok' then
  win_n, dw_n = win_n + 1, dw_n + 1
  if not slow then
    local adm_at, asked = tonumber(s[18]) or 0, 0
    if now - adm_at < 1 then asked = math.max(tonumber(s[19]) or 0, tonumber(s[20]) or 0)
    elseif now - adm_at < 2 then asked = tonumber(s[19]) or 0 end
    local room = math.max(tonumber(ARGV[6]), 2 * asked) + 1
    local grown = rate + math.max(tonumber(ARGV[21]), tonumber(ARGV[28]) / rate)
    if rate < knee then grown = rate + tonumber(ARGV[10]) / rate end
    rate = math.max(rate, math.min(grown, room))
  end
  if learned and not configured then
    local probed = tonumber(s[16]) or now
    tps = learned * (1 + tonumber(ARGV[24]) * math.min(now - probed, 1))
    redis.call('HSET', KEYS[1], 'tps_l', tps, 'tp_at', now)
  end
elseif outcome == 'throttled' and admitted > cut_at and now - cut_at >= spacing then
  local base, target = math.min(rate, tonumber(ARGV[27])), 0
  if slow then
    target = math.max(base * tonumber(ARGV[18]), math.min(prev_n, base * 0.95))
  else
    local delivered = math.max(prev_n, dprev)
    target = math.max(base * tonumber(ARGV[9]),
      math.min(delivered * tonumber(ARGV[19]), base * 0.95))
  end
  if target < base * tonumber(ARGV[20]) then knee = base else knee = target end
  rate, cut_at, slow, cut = target, now, false, 1
end
if ceiling > 0 and rate > ceiling then rate = ceiling end
rate = math.max(lowest, math.min(highest, rate))
redis.call('HSET', KEYS[1], 'rate', rate, 'cut_at', cut_at, 'ss', slow and 1 or 0,
  'win_at', win_at, 'win_n', win_n, 'prev_n', prev_n, 'knee', knee,
  'dw_at', dw_at, 'dw_n', dw_n, 'dprev', dprev)
if not configured then spend(KEYS[1], now, -refund, span) end
local lvl, tcut_at = tonumber(s[7]), tonumber(s[15]) or 0
if outcome ~= 'ok' and tonumber(ARGV[26]) <= tcut_at then refund = 0 end
if tps > 0 and refund ~= 0 and lvl then
  local cap = tps * span
  lvl = math.min(cap, lvl + (now - tonumber(s[8])) * tps + refund)
  redis.call('HSET', KEYS[1], 'lvl', lvl, 'lvl_at', now)
  if refund > 0 then
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[17]) - 1)
    redis.call('EXPIRE', KEYS[2], ARGV[11])
  end
end
if outcome == 'throttled_tokens' and admitted > tcut_at and now - tcut_at >= spacing then
  local later = 0
  if not configured then
    later = (tonumber(redis.call('HGET', KEYS[1], 'sp')) or 0) - tonumber(ARGV[25])
    local floor = tokens_floor(KEYS[1], now, span, later - tonumber(ARGV[3]) / 2)
    if learned then
      tps = math.min(learned, math.max(floor, learned * tonumber(ARGV[23])))
    else
      tps = math.max(floor, refund / span)
    end
    redis.call('HSET', KEYS[1], 'tps_l', tps, 'tp_at', now)
  end
  redis.call('HSET', KEYS[1], 'lvl', math.min(lvl or 0, -later), 'lvl_at', now, 'tcut_at', now)
  cut = 1
end
redis.call('EXPIRE', KEYS[1], ARGV[11])
return {cut, tostring(rate)}
"""
SETTLE = _LEDGER + _SETTLE_BODY

#: Settle many calls in one round trip (:mod:`fleet.settlements`), each as :data:`SETTLE` would,
#: in order. KEYS: each call's two keys in turn. ARGV: the width of one call's arguments, then
#: each call's, in turn. Returns each call's {cut 0/1, rate}.
SETTLE_MANY = (
    _LEDGER
    + "local function settle(KEYS, ARGV)"
    + _SETTLE_BODY
    + """end
local width, answers = tonumber(ARGV[1]), {}
for i = 0, #KEYS / 2 - 1 do
  local args = {}
  for j = 1, width do args[j] = ARGV[1 + i * width + j] end
  answers[i + 1] = settle({KEYS[2 * i + 1], KEYS[2 * i + 2]}, args)
end
return answers
"""
)
