-- Writes one wallet analysis, newest wins, atomically.
-- KEYS[1] = wallet hash
-- ARGV[1] = fetched_at_ms, ARGV[2] = record JSON, ARGV[3] = expiry (ms)
-- Returns 1 if written, 0 if the cached analysis is as new or newer.
local ts = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'fetched_at_ms'))
if current ~= nil and ts <= current then
  return 0
end
redis.call('HSET', KEYS[1], 'fetched_at_ms', ts, 'record', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
