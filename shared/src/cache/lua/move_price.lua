-- Moves one price record an older release kept under its symbol to its coin id's key, with its
-- history. KEYS[1] old record HASH, KEYS[2] old history ZSET, KEYS[3] new record HASH,
-- KEYS[4] new history ZSET; ARGV[1] history points kept (0: all).
-- When the new key already holds a record (a worker of this release wrote it first), the newer
-- of the two stays (`PriceRecord::order`: as-of, then fetched-at) and the histories are merged.
-- Returns 1 when something moved, 0 when the old key was gone.
local keep = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local function order(key)
  local held = redis.call('HMGET', key, 'fetched_at_ms', 'as_of_ms')
  local fetched = tonumber(held[1]) or 0
  return tonumber(held[2]) or fetched, fetched
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[3])
else
  local old_as_of, old_fetched = order(KEYS[1])
  local new_as_of, new_fetched = order(KEYS[3])
  if old_as_of > new_as_of or (old_as_of == new_as_of and old_fetched > new_fetched) then
    redis.call('RENAME', KEYS[1], KEYS[3])
  else
    redis.call('DEL', KEYS[1])
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    redis.call('RENAME', KEYS[2], KEYS[4])
  else
    local ttl = redis.call('PTTL', KEYS[4])
    redis.call('ZUNIONSTORE', KEYS[4], 2, KEYS[4], KEYS[2])
    redis.call('DEL', KEYS[2])
    if keep > 0 then
      redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(keep + 1))
    end
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[4], ttl)
    end
  end
end
return 1
