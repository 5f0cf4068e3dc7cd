-- Writes price records, newest wins, atomically.
-- KEYS[1] = the set of coins with alerts (`Keys::alerts_coins`), KEYS[2] = the log of price
-- moves for the alerts (`Keys::alert_moves`), then for record i: KEYS[2i+1] = price hash,
-- KEYS[2i+2] = history zset
-- ARGV[1] = expiry (ms), ARGV[2] = history points kept, ARGV[3] = event channel,
-- ARGV[4] = "whole" (a record with every figure its upstream has) or "tick" (an exchange
-- stream's record, without a market cap), ARGV[5] = in "tick" mode, the least time (ms) between
-- two history points a tick adds (0: every tick adds one), ARGV[6] = most entries the log of
-- moves keeps,
-- then per record i: ARGV[5i+2] = fetched_at_ms, ARGV[5i+3] = as_of_ms (`PriceRecord::as_of`),
-- ARGV[5i+4] = record JSON, ARGV[5i+5] = history point JSON, ARGV[5i+6] = coin id
-- "Newer" is `PriceRecord::order`: a later as-of, or the same as-of fetched later. A record
-- written before as-of was kept (no `as_of_ms` field) counts as of its fetched_at.
--
-- Figures one path lacks are not clobbered by it: a newer tick keeps the cached record's
-- market cap, and its 24 h change and volume when it has none yet; a whole record that loses on
-- as-of (an aggregator's answer older than the last trade) still brings its market cap into the
-- cached record when it was fetched after the market cap held (the hash's `cap_fetched_ms`, set
-- by every whole record written or patched in). Comparing with the fetch of the market cap, not
-- of the record, matters: trades land between an aggregator's answer and its write, and a cap
-- compared with the last trade's arrival would be dropped every time that happens.
-- Each written record of a coin with alerts that replaced a record is a move, appended to the
-- log in this same step (coin, symbol, previous and new price, as-of, fetched, source), so
-- every price update is evaluated against the alerts whichever path wrote it (`alerts::MoveLog`).
-- Returns {written, moves logged}; a record not newer than the cached one is skipped.
local ttl = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local channel = ARGV[3]
local mode = ARGV[4]
local history_gap = tonumber(ARGV[5])
-- Kept from the cached record when a newer record lacks them.
local KEPT = {
  whole = {},
  tick = {"market_cap_usd", "change_24h_pct", "volume_24h_usd"},
}
-- Brought into the cached record by a whole record that lost on as-of.
local PATCHED = {"market_cap_usd"}

local function missing(v)
  return v == nil or v == cjson.null
end

local alert_coins, move_log = KEYS[1], KEYS[2]
local log_max = ARGV[6]
local written, logged = 0, 0
for i = 1, (#KEYS - 2) / 2 do
  local key, history = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local ts = tonumber(ARGV[5 * i + 2])
  local as_of = tonumber(ARGV[5 * i + 3])
  local record, point, coin = ARGV[5 * i + 4], ARGV[5 * i + 5], ARGV[5 * i + 6]
  local held = redis.call('HMGET', key, 'fetched_at_ms', 'as_of_ms', 'record', 'cap_fetched_ms')
  local current = tonumber(held[1])
  local current_as_of = tonumber(held[2]) or current
  if current == nil or as_of > current_as_of or (as_of == current_as_of and ts > current) then
    if held[3] and redis.call('SISMEMBER', alert_coins, coin) == 1 then
      local previous, new = cjson.decode(held[3]).usd, cjson.decode(record)
      if type(previous) == "string" and type(new.usd) == "string" then
        redis.call('XADD', move_log, 'MAXLEN', '~', log_max, '*',
          'coin', coin, 'symbol', tostring(new.symbol), 'previous', previous, 'usd', new.usd,
          'as_of', as_of, 'fetched', ts, 'source', tostring(new.source))
        logged = logged + 1
      end
    end
    if mode == "tick" and held[3] then
      local new, old = cjson.decode(record), cjson.decode(held[3])
      local changed = false
      for _, field in ipairs(KEPT[mode]) do
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
    if mode == "whole" then
      redis.call('HSET', key, 'cap_fetched_ms', ts)
    end
    redis.call('PEXPIRE', key, ttl)
    local add_point = true
    if mode == "tick" and history_gap > 0 then
      local newest = redis.call('ZRANGE', history, -1, -1, 'WITHSCORES')
      add_point = newest[2] == nil or ts - tonumber(newest[2]) >= history_gap
    end
    if add_point then
      redis.call('ZADD', history, ts, point)
      if keep > 0 then
        redis.call('ZREMRANGEBYRANK', history, 0, -(keep + 1))
      end
      redis.call('PEXPIRE', history, ttl)
    end
    redis.call('PUBLISH', channel, record)
    written = written + 1
  elseif mode == "whole" and held[3] then
    local new, old = cjson.decode(record), cjson.decode(held[3])
    -- No `cap_fetched_ms` (a hash from before it was kept, or only trades so far): a market cap
    -- held is as old as the record's fetch; none held has nothing to protect.
    local cap_fetched = tonumber(held[4]) or (missing(old.market_cap_usd) and 0 or current)
    if ts > cap_fetched and not missing(new.market_cap_usd) then
      local changed = false
      for _, field in ipairs(PATCHED) do
        if not missing(new[field]) and new[field] ~= old[field] then
          old[field] = new[field]
          changed = true
        end
      end
      if changed then
        redis.call('HSET', key, 'record', cjson.encode(old))
      end
      redis.call('HSET', key, 'cap_fetched_ms', ts)
    end
  end
end
return {written, logged}
