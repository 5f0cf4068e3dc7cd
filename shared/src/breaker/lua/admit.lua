-- May a request go to the upstream? One breaker HASH, on Redis's clock.
-- KEYS[1] the breaker HASH; ARGV[1] probe interval (ms).
-- Returns {1, 0} closed: go; {2, 0} open, and this caller is the one probe of this interval;
-- {0, ms} open: no request for ms more.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then
  return {1, 0}
end
local probe_at = tonumber(redis.call('HGET', KEYS[1], 'probe_at_ms') or '0')
if now >= probe_at then
  redis.call('HSET', KEYS[1], 'probe_at_ms', now + tonumber(ARGV[1]))
  return {2, 0}
end
return {0, probe_at - now}
