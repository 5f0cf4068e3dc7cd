-- Hand back what workers silent for longer than the orphan window held, on Redis's clock (the
-- cut-off of apalis-redis's reenqueue_orphaned.lua is the calling worker's clock, so a worker
-- whose clock runs ahead takes healthy workers for dead and their tasks run twice). Their ids
-- go to the head of the active list (they have waited longest), in steps of 1,000 (no unpack
-- of an unbounded list), and the workers leave the registry.
--
-- KEYS[1] workers zset (unix s)  KEYS[2] active list  KEYS[3] signal list
-- ARGV[1] in-flight key prefix  ARGV[2] orphan window (s)  ARGV[3] the caller's own name
-- ARGV[4] "available" channel
-- Returns the number of tasks handed back.
local cutoff = tonumber(redis.call("TIME")[1]) - tonumber(ARGV[2])
local moved = 0
for _, worker in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", cutoff)) do
    if worker ~= ARGV[3] then
        local set = ARGV[1] .. ":" .. worker
        local ids = redis.call("SMEMBERS", set)
        for i = 1, #ids, 1000 do
            redis.call("LPUSH", KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))
        end
        moved = moved + #ids
        redis.call("DEL", set)
        redis.call("ZREM", KEYS[1], worker)
    end
end
if moved > 0 then
    redis.call("DEL", KEYS[3])
    redis.call("LPUSH", KEYS[3], 1)
    redis.call("PUBLISH", ARGV[4], moved)
end
return moved
