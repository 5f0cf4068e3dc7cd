-- Hand back everything one worker incarnation holds and remove it from the worker set.
-- Used on graceful stop after the timeout and when the supervisor replaces a failed
-- incarnation. (apalis's own close removes the wrong member from the worker set: defect 4.)
--
-- KEYS[1] the worker's inflight set  KEYS[2] active list  KEYS[3] workers zset
-- KEYS[4] the worker's metadata hash KEYS[5] signal list  KEYS[6] the worker's info hash
-- ARGV[1] worker name  ARGV[2] "available" channel
-- Returns the number of tasks handed back.
local ids = redis.call("SMEMBERS", KEYS[1])
local n = #ids
-- Released tasks go to the front: they were taken first and have waited longest.
for i = 1, n, 1000 do
    local last = math.min(i + 999, n)
    redis.call("LPUSH", KEYS[2], unpack(ids, i, last))
end
redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("DEL", KEYS[4], KEYS[6])
if n > 0 then
    redis.call("DEL", KEYS[5])
    redis.call("LPUSH", KEYS[5], 1)
    redis.call("PUBLISH", ARGV[2], n)
end
return n
