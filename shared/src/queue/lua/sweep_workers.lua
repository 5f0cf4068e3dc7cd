-- Remove what dead workers left behind: their entry in the workers zset, their metadata hash,
-- their info hash and their (empty) in-flight set. A worker whose in-flight set still holds tasks is left alone:
-- orphan recovery must hand those tasks back first.
--
-- KEYS[1] workers zset (heartbeat, unix seconds)
-- ARGV[1] in-flight key prefix  ARGV[2] metadata key prefix  ARGV[3] silence (s): a worker
-- not heard from for longer, on Redis's clock, is dead
-- ARGV[4] info key prefix
-- Returns the number of workers removed.
local removed = 0
local cutoff = tonumber(redis.call("TIME")[1]) - tonumber(ARGV[3])
for _, worker in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", cutoff)) do
    local inflight = ARGV[1] .. ":" .. worker
    if redis.call("SCARD", inflight) == 0 then
        redis.call("DEL", inflight, ARGV[2] .. ":" .. worker, ARGV[4] .. ":" .. worker)
        redis.call("ZREM", KEYS[1], worker)
        removed = removed + 1
    end
end
return removed
