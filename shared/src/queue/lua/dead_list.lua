-- One page of a queue's dead tasks, newest death first.
--
-- KEYS[1] dead set  KEYS[2] finished zset (ms)
-- ARGV[1] meta key prefix  ARGV[2] offset  ARGV[3] limit
--
-- The dead set is a SET, with no order of its own: each dead id's finish time is its score in
-- the finished zset (a dead task finishes when it dies), read 500 at a time with ZMSCORE and
-- sorted here. O(dead) per page, which the finished-task retention keeps bounded. (No
-- `SORT … BY`: it reads keys it cannot declare, which a Redis Cluster refuses.)
-- Returns {total, id1, attempts1, max_attempts1, last_error1, enqueued_at1, done_at1, id2, ...}
-- with "" for a missing field.
local members = redis.call("SMEMBERS", KEYS[1])
local dead = {}
for from = 1, #members, 500 do
    local chunk = {}
    for i = from, math.min(from + 499, #members) do
        chunk[#chunk + 1] = members[i]
    end
    local scores = redis.call("ZMSCORE", KEYS[2], unpack(chunk))
    for i, id in ipairs(chunk) do
        dead[#dead + 1] = {id = id, at = tonumber(scores[i]) or 0}
    end
end
-- Newest first; equal times by id, newest id first, so pages are stable.
table.sort(dead, function(a, b)
    if a.at ~= b.at then
        return a.at > b.at
    end
    return a.id > b.id
end)
local out = {#dead}
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = offset + 1, math.min(offset + limit, #dead) do
    local id = dead[i].id
    local m = redis.call("HMGET", ARGV[1] .. ":" .. id,
        "attempts", "max_attempts", "last_error", "enqueued_at", "done_at")
    out[#out + 1] = id
    for j = 1, 5 do
        out[#out + 1] = m[j] or ""
    end
end
return out
