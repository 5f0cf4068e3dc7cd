-- Move due delayed tasks onto the active list, at most ARGV[1] per call so a large due set is
-- moved in bounded steps (apalis's fetch_next.lua unpacks all of them at once: defect 1).
--
-- KEYS[1] delayed zset (ms)  KEYS[2] active list  KEYS[3] signal list
-- ARGV[1] limit (<= 1000)
-- Due means due on Redis's clock (`TIME`), not the calling worker's.
-- Returns the number of tasks moved.
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now, "LIMIT", 0, tonumber(ARGV[1]))
if #ids == 0 then
    return 0
end
redis.call("RPUSH", KEYS[2], unpack(ids))
redis.call("ZREM", KEYS[1], unpack(ids))
redis.call("DEL", KEYS[3])
redis.call("LPUSH", KEYS[3], 1)
return #ids
