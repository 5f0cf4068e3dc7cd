-- Delete finished (done or dead) task records older than a cutoff, oldest first, at most
-- ARGV[3] per call. apalis never expires them (defect 8).
--
-- KEYS[1] finished zset (ms)  KEYS[2] done set  KEYS[3] dead set  KEYS[4] data hash
-- KEYS[5] errors hash  KEYS[6] search hours zset
-- ARGV[1] meta key prefix     ARGV[2] age (ms): records finished longer ago, on Redis's clock
-- ARGV[3] limit  ARGV[4] search log prefix
-- Returns the number of task records deleted.
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now - tonumber(ARGV[2]), "LIMIT", 0,
    tonumber(ARGV[3]))
for _, id in ipairs(ids) do
    redis.call("SREM", KEYS[2], id)
    redis.call("SREM", KEYS[3], id)
    redis.call("HDEL", KEYS[4], id)
    redis.call("DEL", ARGV[1] .. ":" .. id)
    redis.call("HDEL", KEYS[5], id)
    redis.call("ZREM", KEYS[1], id)
end
-- The search logs of hours before the oldest finished record left go with it.
if #ids > 0 then
    local oldest = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
    -- (none left: every log goes)
    local below = "+inf"
    if #oldest == 2 then
        below = "(" .. math.floor(tonumber(oldest[2]) / 3600000)
    end
    local stale = redis.call("ZRANGEBYSCORE", KEYS[6], "-inf", below)
    for _, hour in ipairs(stale) do
        redis.call("DEL", ARGV[4] .. ":" .. hour)
    end
    if #stale > 0 then
        redis.call("ZREMRANGEBYSCORE", KEYS[6], "-inf", below)
    end
end
return #ids
