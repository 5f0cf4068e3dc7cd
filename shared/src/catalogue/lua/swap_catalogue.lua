-- Puts a fully written staging HASH in place of the catalogue, newest-wins and guarded against
-- a truncated listing.
-- KEYS[1] staging HASH, KEYS[2] catalogue HASH, KEYS[3] meta HASH
-- ARGV[1] refreshed_at_ms (when this refresh began asking), ARGV[2] source,
-- ARGV[3] ranked count, ARGV[4] smallest share of the stored count (percent) a new listing may
-- have, ARGV[5] coins this refresh wrote (the staging HASH must hold exactly that many)
-- Returns {status, previous count, staged count}: status 1 written, 0 an equal or newer
-- catalogue is stored, -1 the listing shrank past the guard, -2 the staging HASH is incomplete
-- (expired mid-refresh).
local staged = redis.call('HLEN', KEYS[1])
local previous = redis.call('HLEN', KEYS[2])
if staged ~= tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[1])
  return {-2, previous, staged}
end
local stored_at = tonumber(redis.call('HGET', KEYS[3], 'refreshed_at_ms') or '-1')
if stored_at >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {0, previous, staged}
end
if previous > 0 and staged * 100 < previous * tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1])
  return {-1, previous, staged}
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[3], 'refreshed_at_ms', ARGV[1], 'source', ARGV[2],
  'coins', staged, 'ranked', ARGV[3])
return {1, previous, staged}
