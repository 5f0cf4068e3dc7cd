-- The tasks one caller has waiting or running, for the per-caller cap of the enqueue routes.
--
-- KEYS[1] the caller's ZSET: member = a task's meta key, score = when it was enqueued (ms)
-- ARGV[1] "admit" or "record"
-- admit:  ARGV[2] cap. Forgets every task that is done, dead or gone, then returns
--         {1, count} when the caller has fewer than cap left, {0, count} otherwise.
-- record: ARGV[2] the new task's meta key, ARGV[3] now (ms), ARGV[4] the ZSET's expiry (s).
--         Returns {1, count}.
if ARGV[1] == "record" then
    redis.call("ZADD", KEYS[1], ARGV[3], ARGV[2])
    redis.call("EXPIRE", KEYS[1], ARGV[4])
    return {1, redis.call("ZCARD", KEYS[1])}
end

local cap = tonumber(ARGV[2])
for _, meta in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
    local status = redis.call("HGET", meta, "status")
    if (not status) or status == "Done" or status == "Killed" then
        redis.call("ZREM", KEYS[1], meta)
    end
end
local count = redis.call("ZCARD", KEYS[1])
if count < cap then
    return {1, count}
end
return {0, count}
