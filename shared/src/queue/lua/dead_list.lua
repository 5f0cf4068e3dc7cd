-- One page of a queue's dead tasks, newest death first.
--
-- KEYS[1] dead set
-- ARGV[1] meta key prefix  ARGV[2] offset  ARGV[3] limit
--
-- SORT ... BY reads each dead task's `done_at` from its meta hash (the dead set is a SET, so it
-- has no order of its own): O(dead) per page, which the finished-task retention keeps bounded.
-- Returns {total, id1, attempts1, max_attempts1, last_error1, enqueued_at1, done_at1, id2, ...}
-- with "" for a missing field.
local total = redis.call("SCARD", KEYS[1])
local ids = redis.call("SORT", KEYS[1], "BY", ARGV[1] .. ":*->done_at",
    "LIMIT", tonumber(ARGV[2]), tonumber(ARGV[3]), "DESC")
local out = {total}
for _, id in ipairs(ids) do
    local m = redis.call("HMGET", ARGV[1] .. ":" .. id,
        "attempts", "max_attempts", "last_error", "enqueued_at", "done_at")
    out[#out + 1] = id
    for i = 1, 5 do
        out[#out + 1] = m[i] or ""
    end
end
return out
