-- How much of each window a limiter is using now, read-only, on Redis's clock: what the acquire
-- script would count at this instant (a grant counts for its period plus the guard; a bucket
-- counts until its end plus the period and the guard).
--
-- KEYS[1] blocked-until STRING (unix µs)   KEYS[2] line ZSET   KEYS[3] leases ZSET
-- KEYS[4..] one key per window, as acquire.lua's KEYS[6..]
-- ARGV[1] guard (ms)   ARGV[2..] groups of 3 per window: limit, period (ms), bucket width (ms, 0 = log)
--
-- Returns {now_us, blocked_until_us (0 when none), waiting, used_1, used_2, ...}: `waiting` is
-- the tickets in the line whose lease has not ended (callers waiting for a permit now).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local guard = tonumber(ARGV[1]) * 1000
local FIRST_WINDOW_KEY = 4

local function cost_of(member)
    return tonumber(string.match(member, ':(%d+)$')) or 1
end

local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if blocked <= now then
    blocked = 0
end
local waiting = redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf')

local out = { now, blocked, waiting }
for i = 1, #KEYS - (FIRST_WINDOW_KEY - 1) do
    local a = 1 + (i - 1) * 3
    local key = KEYS[FIRST_WINDOW_KEY - 1 + i]
    local span = tonumber(ARGV[a + 2]) * 1000 + guard
    local width = tonumber(ARGV[a + 3]) * 1000
    local used = 0
    if width == 0 then
        -- At most the window's limit of entries (LOG_MAX_LIMIT).
        for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. (now - span), '+inf')) do
            used = used + cost_of(m)
        end
    else
        local flat = redis.call('HGETALL', key)
        for j = 1, #flat, 2 do
            if (tonumber(flat[j]) + 1) * width + span > now then
                used = used + tonumber(flat[j + 1])
            end
        end
    end
    out[#out + 1] = used
end
return out
