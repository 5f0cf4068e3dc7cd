-- Delete waiting tasks (the active list and the delayed set) with their payload and meta, at
-- most ARGV[3] of each per call. In-flight tasks are in workers' in-flight sets, never here, so
-- they are untouched. An idempotency key still naming a deleted task is deleted with it.
--
-- KEYS[1] active list  KEYS[2] delayed zset  KEYS[3] data hash  KEYS[4] errors hash
-- ARGV[1] meta key prefix  ARGV[2] idempotency key prefix  ARGV[3] step
-- Returns {deleted from active, deleted from delayed}.
local step = tonumber(ARGV[3])

local function forget(id)
    local meta = ARGV[1] .. ":" .. id
    local idem = redis.call("HGET", meta, "idempotency_key")
    if idem and #idem > 0 then
        local key = ARGV[2] .. ":" .. idem
        if redis.call("GET", key) == id then
            redis.call("DEL", key)
        end
    end
    redis.call("HDEL", KEYS[3], id)
    redis.call("HDEL", KEYS[4], id)
    redis.call("DEL", meta)
end

local active = redis.call("LPOP", KEYS[1], step) or {}
for _, id in ipairs(active) do
    forget(id)
end

local delayed = redis.call("ZRANGE", KEYS[2], 0, step - 1)
if #delayed > 0 then
    redis.call("ZREM", KEYS[2], unpack(delayed))
    for _, id in ipairs(delayed) do
        forget(id)
    end
end
return {#active, #delayed}
