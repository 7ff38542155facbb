"""The Lua scripts of the fleet's shared state: each one atomic on the Redis server, clocked by its TIME.

Keys (all under `switchboard:{namespace}:`):
- `sidecars`: sorted set, member = sidecar id, score = its last heartbeat (ms); the live count;
- `budget:{route}:{window_seconds}:{window}`: hash of `s:{sidecar}` (settled pUSD) and `r:{sidecar}`
  (reserved pUSD); a reservation fits against every sidecar's spend and the reservations of the live
  ones (a sidecar that died holding some no longer blocks the budget);
- `bucket:{endpoint}:{kind}`: hash `tokens`, `ts` (seconds): a token bucket refilled on the server's clock;
- `circuit:{endpoint}`: string `{sidecar}:{epoch}`, expiring when the circuit would go half-open.
"""

from __future__ import annotations

HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - stale)
redis.call('PEXPIRE', KEYS[1], stale * 10)
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: budget hash, sidecars set. ARGV: me, limit, want, force (0/1), ttl seconds, stale ms.
# Returns {granted (0/1), spent of all, reserved of all but this want}.
BUDGET_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, limit, want = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local stale = tonumber(ARGV[6])
local fields = redis.call('HGETALL', KEYS[1])
local spent, reserved = 0, 0
for i = 1, #fields, 2 do
  local kind, id, value = string.sub(fields[i], 1, 1), string.sub(fields[i], 3), tonumber(fields[i + 1])
  if kind == 's' then
    spent = spent + value
  elseif kind == 'r' then
    local beat = redis.call('ZSCORE', KEYS[2], id)
    if id == me or (beat and tonumber(beat) >= now - stale) then reserved = reserved + value end
  end
end
local granted = 0
if ARGV[4] == '1' or spent + reserved + want <= limit then
  granted = 1
  redis.call('HINCRBY', KEYS[1], 'r:' .. me, want)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
end
return {granted, spent, reserved}
"""

# KEYS: budget hash. ARGV: me, spent delta, reserved delta, ttl seconds.
BUDGET_ADD = """
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 's:' .. ARGV[1], ARGV[2]) end
if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'r:' .. ARGV[1], ARGV[3]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""

# KEYS: budget hash. ARGV: me, own spent, own reserved, ttl seconds: a sidecar's own amounts, absolute.
BUDGET_RESYNC = """
redis.call('HSET', KEYS[1], 's:' .. ARGV[1], ARGV[2], 'r:' .. ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""

# KEYS: budget hash, sidecars set. ARGV: stale ms. Returns {spent of all, reserved of live sidecars}.
BUDGET_READ = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = redis.call('HGETALL', KEYS[1])
local spent, reserved = 0, 0
for i = 1, #fields, 2 do
  local kind, id, value = string.sub(fields[i], 1, 1), string.sub(fields[i], 3), tonumber(fields[i + 1])
  if kind == 's' then
    spent = spent + value
  else
    local beat = redis.call('ZSCORE', KEYS[2], id)
    if beat and tonumber(beat) >= now - tonumber(ARGV[1]) then reserved = reserved + value end
  end
end
return {spent, reserved}
"""

# KEYS: bucket hash. ARGV: rate per minute, capacity, want, minimum, delta.
# Refills on the server's clock, applies `delta` (a settlement: + gives back, - charges), then grants
# min(want, whole tokens) if at least `minimum` are there. Returns {granted, tokens left (floor)}.
BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, minimum, delta = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, ts = cap, now end
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate / 60)
tokens = math.min(cap, tokens + delta)
local granted = 0
if minimum > 0 and tokens >= minimum then granted = math.min(want, math.floor(tokens)) end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(cap * 60 / rate) + 60)
return {granted, math.floor(tokens)}
"""
