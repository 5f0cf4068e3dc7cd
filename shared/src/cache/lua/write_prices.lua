-- Writes price records, newest wins, atomically.
-- KEYS: for record i, KEYS[2i-1] = price hash, KEYS[2i] = history zset
-- ARGV[1] = expiry (ms), ARGV[2] = history points kept, ARGV[3] = event channel,
-- then per record i: ARGV[3i+1] = fetched_at_ms, ARGV[3i+2] = record JSON, ARGV[3i+3] = history point JSON
-- Returns the number of records written; a record not newer than the cached one is skipped.
local ttl = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local channel = ARGV[3]
local written = 0
for i = 1, #KEYS / 2 do
  local key, history = KEYS[2 * i - 1], KEYS[2 * i]
  local ts = tonumber(ARGV[3 * i + 1])
  local record, point = ARGV[3 * i + 2], ARGV[3 * i + 3]
  local current = tonumber(redis.call('HGET', key, 'fetched_at_ms'))
  if current == nil or ts > current then
    redis.call('HSET', key, 'fetched_at_ms', ts, 'record', record)
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', history, ts, point)
    if keep > 0 then
      redis.call('ZREMRANGEBYRANK', history, 0, -(keep + 1))
    end
    redis.call('PEXPIRE', history, ttl)
    redis.call('PUBLISH', channel, record)
    written = written + 1
  end
end
return written
