-- What a queue finished over time, from the counters ack.lua keeps (see its end): the last
-- ARGV[2] buckets of ARGV[1] ("minute" or "hour") up to now, on Redis's clock.
--
-- KEYS[1] the history key prefix (only routes the call: every key read is built from it)
-- ARGV[1] "minute" | "hour"  ARGV[2] buckets wanted (1 to 1440 minutes, 1 to 720 hours)
--
-- Returns {now_ms, first bucket's index, then done, retried, throttled, dead per bucket,
-- oldest first}; a bucket's index times its length in ms is its start.
local prefix, resolution, wanted = KEYS[1], ARGV[1], tonumber(ARGV[2])
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local length, per, tag
if resolution == "minute" then
    length, per, tag = 60000, 60, ":m:"
else
    length, per, tag = 3600000, 24, ":h:"
end
local last = math.floor(now / length)
local first = last - wanted + 1

local hashes = {}
local function counters(bucket)
    local container = math.floor(bucket / per)
    local fields = hashes[container]
    if not fields then
        fields = {}
        local flat = redis.call("HGETALL", prefix .. tag .. container)
        for i = 1, #flat, 2 do
            fields[flat[i]] = tonumber(flat[i + 1]) or 0
        end
        hashes[container] = fields
    end
    local at = (bucket % per) .. ":"
    return fields[at .. "done"] or 0, fields[at .. "retried"] or 0,
        fields[at .. "throttled"] or 0, fields[at .. "dead"] or 0
end

local out = {now, first}
for bucket = first, last do
    local done, retried, throttled, dead = counters(bucket)
    out[#out + 1] = done
    out[#out + 1] = retried
    out[#out + 1] = throttled
    out[#out + 1] = dead
end
return out
