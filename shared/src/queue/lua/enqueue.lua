-- Enqueue tasks in apalis-redis's data/meta layout, immediate ones straight onto the active list.
--
-- KEYS[1] active list      KEYS[2] delayed zset (ms)   KEYS[3] data hash   KEYS[4] signal list
-- ARGV[1] meta key prefix  ARGV[2] idempotency key prefix  ARGV[3] "available" channel
-- ARGV[4] backlog cap      ARGV[5] tasks to reserve against the cap (>= tasks in this call)
-- ARGV[6..] groups of 8: id, payload, max_attempts, delay_ms (0 = now), idempotency key ("" = none),
--           ttl secs, single flight ("1": the key lets go as soon as the task holding it finished),
--           claim key ("" = none; a whole key name, held like an idempotency key but recorded in
--           the meta as `claim`, not `idempotency_key`, so purging never deletes it)
--
-- enqueued_at and run_at are Redis's clock (`TIME`).
--
-- Returns {1, depth_after, r1, r2, ...} where ri is the new id, or "dup:<existing id>" when the
-- idempotency key is already held; or {0, depth} when the queue is full (nothing written).
--
-- Single flight: a key held by a task that is done or dead ("Done", "Killed"), or whose record is
-- gone, is taken over by the new task; a key held by a task still waiting, delayed, running or
-- waiting for a retry answers "dup:<that id>". Check and take-over are in this one script, so
-- concurrent identical requests get one task between them.
local cap = tonumber(ARGV[4])
local reserve = tonumber(ARGV[5])
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local depth = redis.call("LLEN", KEYS[1]) + redis.call("ZCARD", KEYS[2])
if depth + reserve > cap then
    return {0, depth}
end

local out = {1, 0}
local immediate = 0
for i = 6, #ARGV, 8 do
    local id = ARGV[i]
    local payload = ARGV[i + 1]
    local max_attempts = ARGV[i + 2]
    local delay = tonumber(ARGV[i + 3])
    local idem = ARGV[i + 4]
    local ttl = tonumber(ARGV[i + 5])
    local single = ARGV[i + 6] == "1"
    local claim = ARGV[i + 7]
    local accepted = true
    local key = nil
    if #claim > 0 then
        key = claim
        single = false
    elseif #idem > 0 then
        key = ARGV[2] .. ":" .. idem
    end
    if key then
        -- SET NX EX in one command: the key can never exist without its TTL (apalis defect 2).
        if not redis.call("SET", key, id, "NX", "EX", ttl) then
            local holder = redis.call("GET", key) or ""
            local finished = false
            if single then
                local status = redis.call("HGET", ARGV[1] .. ":" .. holder, "status")
                finished = (not status) or status == "Done" or status == "Killed"
            end
            if finished then
                redis.call("SET", key, id, "EX", ttl)
            else
                accepted = false
                out[#out + 1] = "dup:" .. holder
                if single then
                    -- Held for as long as its task waits or runs: every join pushes it out.
                    redis.call("EXPIRE", key, ttl)
                end
            end
        end
    end
    if accepted then
        redis.call("HSET", KEYS[3], id, payload)
        local when = now + delay
        redis.call("HSET", ARGV[1] .. ":" .. id,
            "attempts", 0, "max_attempts", max_attempts, "status", "Pending",
            "idempotency_key", idem, "enqueued_at", now, "run_at", when)
        if #claim > 0 then
            redis.call("HSET", ARGV[1] .. ":" .. id, "claim", claim)
        end
        if single and #idem > 0 then
            -- ack.lua lets the key go when this task is done or dead; dead_retry.lua takes it back.
            redis.call("HSET", ARGV[1] .. ":" .. id, "flight", 1)
        end
        if delay > 0 then
            redis.call("ZADD", KEYS[2], when, id)
        else
            redis.call("RPUSH", KEYS[1], id)
            immediate = immediate + 1
        end
        depth = depth + 1
        out[#out + 1] = id
    end
end
out[2] = depth

if immediate > 0 then
    redis.call("DEL", KEYS[4])
    redis.call("LPUSH", KEYS[4], 1)
    redis.call("PUBLISH", ARGV[3], immediate)
end
return out
