-- One heartbeat of a registered worker, on Redis's clock, so a worker whose host clock is off
-- neither looks dead to the others nor keeps a dead one looking alive. A worker that orphan
-- recovery already removed stays removed (its tasks went back to the queue): the answer 0 tells
-- it so, and its incarnation ends.
--
-- KEYS[1] workers zset (unix s)  KEYS[2] this worker's info hash (its expiry is refreshed)
-- ARGV[1] worker name  ARGV[2] the info hash's expiry (ms)
-- Returns 1 when the heartbeat was recorded, 0 when the worker is not registered.
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then
    return 0
end
redis.call("ZADD", KEYS[1], "XX", redis.call("TIME")[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then
    redis.call("PEXPIRE", KEYS[2], ARGV[2])
end
return 1
