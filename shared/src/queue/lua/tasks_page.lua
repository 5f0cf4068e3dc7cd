-- One page of a queue's tasks in one state, with what the dashboard shows of each.
--
-- KEYS[1] active list  KEYS[2] delayed zset (ms)  KEYS[3] done set  KEYS[4] dead set
-- KEYS[5] finished zset (ms)  KEYS[6] workers zset  KEYS[7] data hash
-- ARGV[1] "waiting" | "delayed" | "in_flight" | "done" | "dead"  ARGV[2] offset  ARGV[3] limit
-- ARGV[4] meta key prefix  ARGV[5] in-flight key prefix
--
-- Orders: waiting in the order they will run; delayed soonest first; in flight by id (oldest
-- enqueued first); done and dead newest finish first. Done and dead walk the finished zset
-- from its newest end, 500 at a time, keeping the ids of the wanted set: a page costs its
-- offset plus its length, plus the other set's ids in between.
--
-- Returns {total, then per task: id, status, attempts, max_attempts, last_error,
-- enqueued_at, run_at, done_at, payload} with "" for a missing field.
local state, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local total, ids = 0, {}

if state == "waiting" then
    total = redis.call("LLEN", KEYS[1])
    ids = redis.call("LRANGE", KEYS[1], offset, offset + limit - 1)
elseif state == "delayed" then
    total = redis.call("ZCARD", KEYS[2])
    ids = redis.call("ZRANGE", KEYS[2], offset, offset + limit - 1)
elseif state == "in_flight" then
    local held = {}
    for _, worker in ipairs(redis.call("ZRANGE", KEYS[6], 0, -1)) do
        for _, id in ipairs(redis.call("SMEMBERS", ARGV[5] .. ":" .. worker)) do
            held[#held + 1] = id
        end
    end
    table.sort(held)
    total = #held
    for i = offset + 1, math.min(offset + limit, #held) do
        ids[#ids + 1] = held[i]
    end
else
    local set = state == "done" and KEYS[3] or KEYS[4]
    total = redis.call("SCARD", set)
    local skip, from = offset, 0
    while #ids < limit do
        local chunk = redis.call("ZREVRANGE", KEYS[5], from, from + 499)
        if #chunk == 0 then
            break
        end
        local member = redis.call("SMISMEMBER", set, unpack(chunk))
        for i, id in ipairs(chunk) do
            if member[i] == 1 then
                if skip > 0 then
                    skip = skip - 1
                elseif #ids < limit then
                    ids[#ids + 1] = id
                end
            end
        end
        from = from + 500
    end
end

local out = {total}
local payloads = {}
if #ids > 0 then
    payloads = redis.call("HMGET", KEYS[7], unpack(ids))
end
for i, id in ipairs(ids) do
    local m = redis.call("HMGET", ARGV[4] .. ":" .. id, "status", "attempts", "max_attempts",
        "last_error", "enqueued_at", "run_at", "done_at")
    out[#out + 1] = id
    for j = 1, 7 do
        out[#out + 1] = m[j] or ""
    end
    out[#out + 1] = payloads[i] or ""
end
return out
