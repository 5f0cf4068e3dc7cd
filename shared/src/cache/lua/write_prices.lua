-- Writes price records, newest wins, atomically.
-- KEYS: for record i, KEYS[2i-1] = price hash, KEYS[2i] = history zset
-- ARGV[1] = expiry (ms), ARGV[2] = history points kept, ARGV[3] = event channel,
-- then per record i: ARGV[4i] = fetched_at_ms, ARGV[4i+1] = as_of_ms (`PriceRecord::as_of`),
-- ARGV[4i+2] = record JSON, ARGV[4i+3] = history point JSON
-- "Newer" is `PriceRecord::order`: a later as-of, or the same as-of fetched later. A record
-- written before as-of was kept (no `as_of_ms` field) counts as of its fetched_at.
-- Returns the number of records written; a record not newer than the cached one is skipped.
local ttl = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local channel = ARGV[3]
local written = 0
for i = 1, #KEYS / 2 do
  local key, history = KEYS[2 * i - 1], KEYS[2 * i]
  local ts = tonumber(ARGV[4 * i])
  local as_of = tonumber(ARGV[4 * i + 1])
  local record, point = ARGV[4 * i + 2], ARGV[4 * i + 3]
  local held = redis.call('HMGET', key, 'fetched_at_ms', 'as_of_ms')
  local current = tonumber(held[1])
  local current_as_of = tonumber(held[2]) or current
  if current == nil or as_of > current_as_of or (as_of == current_as_of and ts > current) then
    redis.call('HSET', key, 'fetched_at_ms', ts, 'as_of_ms', as_of, 'record', record)
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
