/**
 * The two Lua scripts behind RedisLimiter. Each runs atomically over all of one request's keys
 * (hash-tagged into one slot), on Redis's own clock (TIME), so every gateway instance shares one
 * clock. The arithmetic mirrors MemoryLimiter expression for expression, so both backends round
 * alike. Needs Redis ≥ 6.2 (SET … PXAT).
 *
 * Numbers reach Redis commands through Lua's tostring (%.14g): fine for scores and TTLs, too coarse
 * for a stored rate level and its time, which are written with %.17g, and for budget counters
 * (integer money units up to 2^53), which go to INCRBY as the caller's digit strings and to SET with
 * %.0f.
 */

/** Arguments per rule in the acquire script, after the 3 leading ones. */
export const ACQUIRE_STRIDE = 5;
/** Arguments per rule in the settle script, after the leading lease id. */
export const SETTLE_STRIDE = 4;

/**
 * KEYS: one per rule. ARGV: lease id, lease TTL ms, parallel retry-after ms, then per rule
 * kind ('r' rate, 'p' parallel, 'b' budget), limit, amount, windowMs | expiresAt, seed.
 * Reply: admitted (1/0), index of the first refusing rule (-1), retryAfterMs (-1: never), then
 * remaining and resetMs per rule (after the reservation when admitted, as found otherwise).
 */
export const ACQUIRE_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local lease, ttl, parallelRetry = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #KEYS
local found, missing, raised = {}, {}, {}
local refused, retry = -1, 0

for i = 1, n do
  local a = 3 + (i - 1) * ${ACQUIRE_STRIDE}
  local kind, limit, amount = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local wait = 0
  if kind == 'r' then
    local window = tonumber(ARGV[a + 4])
    local state = redis.call('HMGET', KEYS[i], 'l', 't')
    local level = 0
    if state[1] then
      level = math.max(0, tonumber(state[1]) - math.max(0, now - tonumber(state[2])) * limit / window)
    end
    found[i] = level
    if amount > limit then wait = -1
    elseif level + amount > limit then wait = math.ceil((level + amount - limit) * window / limit) end
  elseif kind == 'p' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local inFlight = redis.call('ZCARD', KEYS[i])
    found[i] = inFlight
    if limit < 1 then wait = -1
    elseif inFlight >= limit then wait = parallelRetry end
  else
    -- The recorded spend (the seed) is a floor: a counter that did not count while its level had no
    -- budget catches up to it.
    local spent, seed = redis.call('GET', KEYS[i]), tonumber(ARGV[a + 5])
    if spent then
      found[i] = math.max(tonumber(spent), seed)
      if found[i] > tonumber(spent) then raised[i] = found[i] - tonumber(spent) end
    else found[i] = seed; missing[i] = true end
    if amount > limit then wait = -1
    elseif found[i] + amount > limit then wait = math.max(1, math.ceil(tonumber(ARGV[a + 4]) - now)) end
  end
  if wait ~= 0 then
    if refused < 0 then refused = i - 1 end
    if wait < 0 or retry < 0 then retry = -1 else retry = math.max(retry, wait) end
  end
end

if refused < 0 then
  for i = 1, n do
    local a = 3 + (i - 1) * ${ACQUIRE_STRIDE}
    local kind, limit, amount = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    if kind == 'r' then
      local window = tonumber(ARGV[a + 4])
      local level = found[i] + amount
      redis.call('HSET', KEYS[i], 'l', string.format('%.17g', level), 't', string.format('%.17g', now))
      redis.call('PEXPIRE', KEYS[i], math.ceil(level * window / limit) + 1)
      found[i] = level
    elseif kind == 'p' then
      redis.call('ZADD', KEYS[i], now + ttl, lease)
      local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
      redis.call('PEXPIREAT', KEYS[i], math.ceil(tonumber(last[2])))
      found[i] = found[i] + 1
    else
      found[i] = found[i] + amount
      -- One SET for a new counter: were expiresAt already past, Redis drops the key at once, where a
      -- SET then INCRBY would leave a counter without expiry.
      if missing[i] then redis.call('SET', KEYS[i], string.format('%.0f', found[i]), 'PXAT', ARGV[a + 4])
      elseif raised[i] then redis.call('INCRBY', KEYS[i], string.format('%.0f', raised[i] + amount))
      else redis.call('INCRBY', KEYS[i], ARGV[a + 3]) end
    end
  end
end

local reply = { refused < 0 and 1 or 0, refused, retry }
for i = 1, n do
  local a = 3 + (i - 1) * ${ACQUIRE_STRIDE}
  local kind, limit = ARGV[a + 1], tonumber(ARGV[a + 2])
  local value = found[i]
  if kind == 'r' then
    reply[2 + 2 * i] = math.max(0, math.floor(limit - value))
    reply[3 + 2 * i] = math.ceil(value * tonumber(ARGV[a + 4]) / limit)
  elseif kind == 'p' then
    reply[2 + 2 * i] = math.max(0, limit - value)
    reply[3 + 2 * i] = 0
  else
    reply[2 + 2 * i] = math.max(0, limit - value)
    reply[3 + 2 * i] = math.max(0, math.ceil(tonumber(ARGV[a + 4]) - now))
  end
end
return reply
`;

/**
 * KEYS: the rules that need work. ARGV: lease id, then per key kind, limit, windowMs, delta
 * (actual − reserved; a digit string for budgets). Parallel: the lease leaves the set. Rate: the
 * drained level moves by delta (never below 0). Budget: INCRBY delta, only while the period's
 * counter exists (after it the database holds the real spend).
 */
export const SETTLE_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
for i = 1, #KEYS do
  local a = 1 + (i - 1) * ${SETTLE_STRIDE}
  local kind = ARGV[a + 1]
  if kind == 'p' then
    redis.call('ZREM', KEYS[i], ARGV[1])
  elseif kind == 'b' then
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[a + 4]) end
  else
    local limit, window, delta = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
    local state = redis.call('HMGET', KEYS[i], 'l', 't')
    local level = 0
    if state[1] then
      level = math.max(0, tonumber(state[1]) - math.max(0, now - tonumber(state[2])) * limit / window)
    end
    level = math.max(0, level + delta)
    if level > 0 or state[1] then
      redis.call('HSET', KEYS[i], 'l', string.format('%.17g', level), 't', string.format('%.17g', now))
      redis.call('PEXPIRE', KEYS[i], math.ceil(level * window / limit) + 1)
    end
  end
end
return 1
`;
