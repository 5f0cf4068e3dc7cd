-- One task that has not started: delete it (with its payload and meta), or run it now (a delayed
-- task, or one waiting for its next attempt, moves to the end of the active list). A task a
-- worker holds is in that worker's in-flight set, never here, so it is never touched.
--
-- KEYS[1] active list  KEYS[2] delayed zset  KEYS[3] data hash  KEYS[4] errors hash
-- KEYS[5] signal list
-- ARGV[1] meta key prefix  ARGV[2] idempotency key prefix  ARGV[3] "available" channel
-- ARGV[4] mode: "delete" | "run"  ARGV[5] the task id
--
-- Returns {"ok", where} with where "active" (it was ready to run) or "delayed", {"unknown"} when
-- no record of the task is left, or {"not_waiting"} when it is running or finished.
-- Times are Redis's clock (`TIME`).
local id = ARGV[5]
local meta = ARGV[1] .. ":" .. id
local mode = ARGV[4]

local where
if mode == "run" then
    -- ready to run already: nothing to move
    if redis.call("LPOS", KEYS[1], id) then
        return {"ok", "active"}
    end
    if redis.call("ZREM", KEYS[2], id) == 1 then
        local clock = redis.call("TIME")
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        redis.call("HSET", meta, "run_at", now)
        redis.call("RPUSH", KEYS[1], id)
        redis.call("DEL", KEYS[5])
        redis.call("LPUSH", KEYS[5], 1)
        redis.call("PUBLISH", ARGV[3], 1)
        return {"ok", "delayed"}
    end
else
    if redis.call("ZREM", KEYS[2], id) == 1 then
        where = "delayed"
    elseif redis.call("LREM", KEYS[1], 1, id) == 1 then
        where = "active"
    end
    if where then
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
        return {"ok", where}
    end
end

if redis.call("EXISTS", meta) == 0 then
    return {"unknown"}
end
return {"not_waiting"}
