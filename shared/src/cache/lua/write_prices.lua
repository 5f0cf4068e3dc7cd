-- Writes price records, newest wins, atomically.
-- KEYS: for record i, KEYS[2i-1] = price hash, KEYS[2i] = history zset
-- ARGV[1] = expiry (ms), ARGV[2] = history points kept, ARGV[3] = event channel,
-- ARGV[4] = "whole" (a record with every figure its upstream has) or "tick" (an exchange
-- stream's record, without a market cap),
-- then per record i: ARGV[4i+1] = fetched_at_ms, ARGV[4i+2] = as_of_ms (`PriceRecord::as_of`),
-- ARGV[4i+3] = record JSON, ARGV[4i+4] = history point JSON
-- "Newer" is `PriceRecord::order`: a later as-of, or the same as-of fetched later. A record
-- written before as-of was kept (no `as_of_ms` field) counts as of its fetched_at.
--
-- Figures one path lacks are not clobbered by it: a newer tick keeps the cached record's
-- market cap; a whole record that loses on as-of (an aggregator's answer older than the last
-- trade) but was fetched later still brings its market cap into the cached record.
-- Returns the number of records written; a record not newer than the cached one is skipped.
local ttl = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local channel = ARGV[3]
local mode = ARGV[4]
local KEPT = {"market_cap_usd"}

local function missing(v)
  return v == nil or v == cjson.null
end

local written = 0
for i = 1, #KEYS / 2 do
  local key, history = KEYS[2 * i - 1], KEYS[2 * i]
  local ts = tonumber(ARGV[4 * i + 1])
  local as_of = tonumber(ARGV[4 * i + 2])
  local record, point = ARGV[4 * i + 3], ARGV[4 * i + 4]
  local held = redis.call('HMGET', key, 'fetched_at_ms', 'as_of_ms', 'record')
  local current = tonumber(held[1])
  local current_as_of = tonumber(held[2]) or current
  if current == nil or as_of > current_as_of or (as_of == current_as_of and ts > current) then
    if mode == "tick" and held[3] then
      local new, old = cjson.decode(record), cjson.decode(held[3])
      local changed = false
      for _, field in ipairs(KEPT) do
        if missing(new[field]) and not missing(old[field]) then
          new[field] = old[field]
          changed = true
        end
      end
      if changed then
        record = cjson.encode(new)
      end
    end
    redis.call('HSET', key, 'fetched_at_ms', ts, 'as_of_ms', as_of, 'record', record)
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', history, ts, point)
    if keep > 0 then
      redis.call('ZREMRANGEBYRANK', history, 0, -(keep + 1))
    end
    redis.call('PEXPIRE', history, ttl)
    redis.call('PUBLISH', channel, record)
    written = written + 1
  elseif mode == "whole" and held[3] and ts > current then
    local new, old = cjson.decode(record), cjson.decode(held[3])
    local changed = false
    for _, field in ipairs(KEPT) do
      if not missing(new[field]) and new[field] ~= old[field] then
        old[field] = new[field]
        changed = true
      end
    end
    if changed then
      redis.call('HSET', key, 'record', cjson.encode(old))
    end
  end
end
return written
