-- Deletes an alert, if its owner asks, with its index entries; a coin left without alerts
-- leaves the set of coins with alerts.
-- KEYS[1] = the owner's set of alert ids, KEYS[2] = the alert's key, KEYS[3..5] = the coin's
-- above, below and move indexes, KEYS[6] = the set of coins with alerts, KEYS[7] = the alert's
-- firings (its cooldown)
-- ARGV[1] = id, ARGV[2] = coin id
-- Returns 1 when deleted, 0 when the owner holds no such alert.
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2], KEYS[7])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
if redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('SCARD', KEYS[5]) == 0 then
  redis.call('SREM', KEYS[6], ARGV[2])
end
return 1
