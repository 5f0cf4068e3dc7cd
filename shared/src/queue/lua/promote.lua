-- Move due delayed tasks onto the active list, at most ARGV[2] per call so a large due set is
-- moved in bounded steps (apalis's fetch_next.lua unpacks all of them at once: defect 1).
--
-- KEYS[1] delayed zset (ms)  KEYS[2] active list  KEYS[3] signal list
-- ARGV[1] now (unix ms)      ARGV[2] limit (<= 1000)
-- Returns the number of tasks moved.
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
if #ids == 0 then
    return 0
end
redis.call("RPUSH", KEYS[2], unpack(ids))
redis.call("ZREM", KEYS[1], unpack(ids))
redis.call("DEL", KEYS[3])
redis.call("LPUSH", KEYS[3], 1)
return #ids
