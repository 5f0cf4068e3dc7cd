-- One task's record and whether a live worker holds it right now.
--
-- KEYS[1] the task's meta hash  KEYS[2] data hash  KEYS[3] workers zset
-- ARGV[1] task id  ARGV[2] inflight key prefix
-- Returns {meta fields..., payload, held_by} or an empty array when the task is unknown.
local meta = redis.call("HGETALL", KEYS[1])
if #meta == 0 then
    return {}
end
local held_by = ""
for _, w in ipairs(redis.call("ZRANGE", KEYS[3], 0, -1)) do
    if redis.call("SISMEMBER", ARGV[2] .. ":" .. w, ARGV[1]) == 1 then
        held_by = w
        break
    end
end
return {meta, redis.call("HGET", KEYS[2], ARGV[1]) or "", held_by}
