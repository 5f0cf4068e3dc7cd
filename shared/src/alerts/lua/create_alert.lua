-- Stores a new alert and indexes it, unless its owner holds the most alerts allowed already.
-- KEYS[1] = the owner's set of alert ids, KEYS[2] = the alert's key, KEYS[3] = the index of its
-- kind for its coin (a ZSET for above/below, a SET for move), KEYS[4] = the set of coins with
-- alerts
-- ARGV[1] = most alerts per owner, ARGV[2] = id, ARGV[3] = alert JSON, ARGV[4] = "zset" or
-- "set", ARGV[5] = threshold (the ZSET score), ARGV[6] = coin id
-- Returns 1 when stored, 0 when the owner is at the bound.
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[1], ARGV[2])
if ARGV[4] == 'zset' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
else
  redis.call('SADD', KEYS[3], ARGV[2])
end
redis.call('SADD', KEYS[4], ARGV[6])
return 1
