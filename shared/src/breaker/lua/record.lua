-- The outcome of one upstream request, for its breaker. On Redis's clock.
-- KEYS[1] the breaker HASH; ARGV[1] 'success' or 'failure'; ARGV[2] consecutive failures that
-- open it; ARGV[3] probe interval (ms).
-- Returns 'opened' or 'closed' when this outcome changed the state, '' otherwise.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local open = redis.call('HGET', key, 'state') == 'open'
if ARGV[1] == 'success' then
  if open then
    redis.call('HSET', key, 'state', 'closed', 'failures', 0, 'closed_at_ms', now)
    redis.call('HINCRBY', key, 'closes', 1)
    return 'closed'
  end
  local failures = redis.call('HGET', key, 'failures')
  if failures and failures ~= '0' then
    redis.call('HSET', key, 'failures', 0)
  end
  return ''
end
local failures = redis.call('HINCRBY', key, 'failures', 1)
redis.call('HSET', key, 'last_failure_ms', now)
if not open and failures >= tonumber(ARGV[2]) then
  redis.call('HSET', key, 'state', 'open', 'opened_at_ms', now,
    'probe_at_ms', now + tonumber(ARGV[3]))
  redis.call('HINCRBY', key, 'opens', 1)
  return 'opened'
end
return ''
