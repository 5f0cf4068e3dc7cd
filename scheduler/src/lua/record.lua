-- Records that a tick of a schedule entry was enqueued, unless a newer tick already was.
--
-- KEYS[1] the entry's run record HASH
-- ARGV[1] tick (unix ms)   ARGV[2] task id   ARGV[3] enqueued at (unix ms; "" = unknown, another
-- replica enqueued it)     ARGV[4] next tick (unix ms; "" = the schedule never fires again)
--
-- Replicas and late handlers race to record; comparing here, in one script, keeps
-- last_tick_ms monotonic without WATCH. The same tick may be recorded twice (by the replica
-- that enqueued it and by one that lost the claim): both carry the same task id.
-- Returns 1 when recorded, 0 when a newer tick was already recorded.
local current = redis.call("HGET", KEYS[1], "last_tick_ms")
local last = -1
if current then
    last = tonumber(current) or -1
end
local tick = tonumber(ARGV[1])
if tick < last then
    return 0
end
redis.call("HSET", KEYS[1], "last_tick_ms", ARGV[1], "last_task_id", ARGV[2])
if ARGV[3] ~= "" then
    redis.call("HSET", KEYS[1], "last_enqueued_ms", ARGV[3])
end
if ARGV[4] ~= "" then
    redis.call("HSET", KEYS[1], "next_tick_ms", ARGV[4])
else
    redis.call("HDEL", KEYS[1], "next_tick_ms")
end
return 1
