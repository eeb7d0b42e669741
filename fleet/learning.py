"""How the governor (:mod:`fleet.governor`) learns a key's quota where none is configured: the
figures its Lua steps (:mod:`fleet.governor_lua`) are tuned to, and why.

Bedrock sends no rate-limit headers, so all there is to learn from is which calls succeeded, how
many a second Bedrock delivered, and its 429s, whose message says which quota was hit: "Too many
requests, please wait before trying again." or "Too many tokens, please wait before trying
again.". The governor cannot tell a quota's throttle from a random one (a fault, another
tenant's burst), so a throttle cuts at most once per congestion and the rate grows back fast.

**Requests.** A key with no requests quota configured starts at :data:`INITIAL_RATE` calls a
second and grows by one an admission (slow start, :mod:`fleet.governor_lua`) until Bedrock
first answers "Too many requests". Each cut is taken from the lower of the rate and the rate the
throttled call was admitted at: calls admitted ahead of their start keep growing the rate in
slow start after Bedrock's bucket ran dry. The first cut is to what Bedrock delivered in the last
second (at most 0.95 of that rate), never below :data:`SLOW_START_BETA` of it: slow start may
have doubled the rate since the bucket ran dry. Each later one is to :data:`PACE_GAIN` of what
Bedrock delivered (the higher of the last second and the last :data:`DELIVERY_SECONDS`; at most
0.95 of the rate, never below :data:`BETA` of it): a requests bucket that throttles is empty,
what it delivers meanwhile is its refill, and pacing just under that lets it fill a little, to
absorb the jitter of arrivals. Throttles of calls admitted before the last cut are the same
congestion, not a new one, so a hundred throttled jobs cut the rate once; and there is at most
one cut in :data:`CUT_SPACING`. After a small cut (the quota's, once the rate is near it) the
rate probes up by :data:`PROBE` of itself a second (at least :data:`PROBE_FLOOR` calls a
second), so that few calls at a time go over the quota; after a cut of more than
1 - :data:`KNEE` of the rate (an overshoot, or a throttle no quota's) it first grows back by
:data:`ALPHA` calls a second each second to the rate it was cut from. Probing by :data:`ALPHA`
throughout, as before, went over a 10-a-second quota every second or two: 9 to 13 % of
attempts were throttled. The price is paid under random throttles, which the governor cannot
tell from the quota's: each cuts by up to 5 % and is won back at :data:`PROBE`, so under a
20 % random fault rate the learned rate settles lower than it did (see the README).

**Tokens.** A key with no tokens quota configured learns one from Bedrock's "Too many tokens".
Two ledgers of the key's spending (tokens reserved less tokens given back, each restarted every
minute, half a minute apart) say how much a bucket of a minute's quota, refilled at the quota,
must at least have held to pay for what was spent before the throttled call was admitted (an
admission hands its ticket the key's running total, ``sp``); the first figure is the higher of
the two, plus half the throttled call's reservation (Bedrock's level was somewhere short of
it). From then on the key's calls reserve and settle against a bucket of that size exactly as
under a configured quota, its level set to what Bedrock just said: empty, less what was spent
since that call was admitted. A later "Too many tokens" sets the level again and cuts the
figure by at most :data:`TOKENS_BETA` (never below the ledgers' floor); successes probe it up by
:data:`TOKENS_PROBE` a second, which a throttle then corrects. A throttled call sent before the
level was set gives nothing back to it: Bedrock never took its tokens. A "Too many tokens"
never cuts the requests rate, nor a "Too many requests" the tokens figure; a 429 whose message
is unknown counts as "Too many requests". Pacing calls a second alone, knowing nothing of
tokens, reached 0.93 of the tokens ideal.

Measured (``python ops/bench/quota.py``: a 10-a-second requests quota, or an 11,000-a-minute
tokens quota, 400 subagents on 2 workers x 50 threads; README, "Staying inside your Bedrock
quota"): requests 0.972 to 0.992 of the ideal with 7.6 to 8.1 % of attempts throttled, tokens
0.984 and 0.989 with 2.0 and 1.7 %; configured mode 0.964 to 0.969 with none.
"""

from __future__ import annotations

#: Calls a second an unknown key starts at: below the default requests quotas of most models
#: (a few hundred a minute); slow start at most doubles it a second.
INITIAL_RATE = 4.0
#: The rate never falls below one call in 20 s, so a key always recovers.
MIN_RATE = 0.05
#: Nor rises above this many calls a second.
MAX_RATE = 10_000.0
#: After slow start, a throttle cuts the rate to no less than this share of itself: what
#: Bedrock delivered lags the rate, and a random throttle must not cut deep.
BETA = 0.7
#: Calls a second added each second after the first throttle, while the rate is below the knee.
ALPHA = 0.5
#: Out of slow start, a throttle cuts the rate to at least this share of itself: slow start at
#: most doubles the rate a second, so half of it is about what Bedrock took.
SLOW_START_BETA = 0.5
#: After slow start, a throttle cuts the rate to this share of what Bedrock delivered (the
#: higher of the last second and the last :data:`DELIVERY_SECONDS`): a token bucket that just
#: throttled is empty, and pacing a little under it lets it fill again, to absorb the jitter of
#: the calls' arrival.
PACE_GAIN = 0.97
#: Successes are also counted over windows of this many seconds for :data:`PACE_GAIN`: one
#: second holds too few calls to tell 9 a second from 10.
DELIVERY_SECONDS = 4.0
#: A cut to less than this share of the rate (an overshoot, or a throttle that was no quota's)
#: sets the knee at the rate cut from, so the rate grows back to it by :data:`ALPHA`; a smaller
#: cut (a quota's, once the rate is near it) sets the knee at the rate cut to, which then probes
#: by :data:`PROBE`.
KNEE = 0.9
#: Above the knee, the rate grows by this share of itself a second (one more call a second
#: each second per 100 calls a second): near the quota, so few calls go over it at a time.
PROBE = 0.01
#: Nor by less than this many calls a second each second: at a few calls a second, 1 % would
#: take minutes to win back a cut that a random throttle caused.
PROBE_FLOOR = 0.1
#: A "Too many tokens" throttle cuts a learned tokens quota to at least this share of itself.
TOKENS_BETA = 0.95
#: A learned tokens quota grows by this share of itself a second while calls succeed (a level
#: set by each "Too many tokens" matters more than the figure: 2 % lost fewer seconds than 0.5 %
#: replayed on the emulator's counting).
TOKENS_PROBE = 0.02
#: At most one cut in this many seconds: Bedrock's quotas are per minute, and a throttle that is
#: not the quota's (a fault, another tenant's burst) must not cut the rate at every call.
CUT_SPACING = 1.0


def learning_args() -> list[float]:
    """The figures the settle script takes after its wake list length, in its order."""
    return [SLOW_START_BETA, PACE_GAIN, KNEE, PROBE, DELIVERY_SECONDS, TOKENS_BETA, TOKENS_PROBE]
