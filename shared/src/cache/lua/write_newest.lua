-- Writes one whole-document record, newest wins, atomically.
-- KEYS[1] = the record's hash
-- ARGV[1] = fetched_at_ms, ARGV[2] = record JSON, ARGV[3] = expiry (ms)
-- Returns 1 when written, 0 when the cached record was fetched at the same time or later.
local ts = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'fetched_at_ms'))
if current ~= nil and ts <= current then
  return 0
end
redis.call('HSET', KEYS[1], 'fetched_at_ms', ts, 'record', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
