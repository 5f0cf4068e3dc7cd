-- One attempt to take `cost` permits from a limiter, on Redis's clock, atomically.
--
-- KEYS[1] blocked-until STRING (unix µs)   KEYS[2] metrics HASH   KEYS[3] log sums HASH
-- KEYS[4..] one key per window: a ZSET log (score = grant time in µs, member = "<nonce>:<cost>")
--           or a HASH of buckets (field = bucket index, value = cost granted in it)
-- ARGV[1] cost   ARGV[2] ms the caller has waited so far (0 on its first attempt)
-- ARGV[3] ms the caller may still wait   ARGV[4] guard (ms)   ARGV[5] nonce (unique per attempt)
-- ARGV[6..] groups of 3 per window, in KEYS order: limit, period (ms), bucket width (ms, 0 = log)
--
-- A grant at time t counts against a window until t + period + guard: the guard covers the
-- jitter between Redis's clock and the moment the request reaches the upstream. A bucket counts
-- its grants as if made at the bucket's end, so it can only over-count (never over-grant).
--
-- Returns {1, 0, now_us} granted; {0, wait_ms, now_us} not yet, try again in wait_ms;
-- {2, wait_ms, now_us} not within the caller's remaining wait (counted as a denial).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local waited_ms = tonumber(ARGV[2])
local budget = tonumber(ARGV[3]) * 1000
local guard = tonumber(ARGV[4]) * 1000
local nonce = ARGV[5]
local sums = KEYS[3]

local function cost_of(member)
    return tonumber(string.match(member, ':(%d+)$')) or 1
end

local function log_total(key)
    local total = 0
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
        total = total + cost_of(m)
    end
    return total
end

local wait = 0
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if blocked > now then
    wait = blocked - now
end

local windows = {}
for i = 1, #KEYS - 3 do
    local a = 5 + (i - 1) * 3
    local w = {
        key = KEYS[3 + i],
        limit = tonumber(ARGV[a + 1]),
        field = ARGV[a + 2],
        span = tonumber(ARGV[a + 2]) * 1000 + guard,
        width = tonumber(ARGV[a + 3]) * 1000,
        used = 0,
    }
    local until_free = nil
    if w.width == 0 then
        -- Sliding log: drop grants that left the window, keeping the running sum in step.
        local horizon = now - w.span
        local gone = redis.call('ZRANGEBYSCORE', w.key, '-inf', horizon)
        local sum = tonumber(redis.call('HGET', sums, w.field) or '')
        if #gone > 0 then
            redis.call('ZREMRANGEBYSCORE', w.key, '-inf', horizon)
            if sum then
                for _, m in ipairs(gone) do
                    sum = sum - cost_of(m)
                end
            end
        end
        if redis.call('ZCARD', w.key) == 0 then
            sum = 0
        elseif sum == nil or sum < 0 then
            sum = log_total(w.key) -- the sum was lost or is off: count again
        end
        w.used = sum
        local excess = w.used + cost - w.limit
        if excess > 0 then
            -- Each entry holds at least 1 permit, so the oldest `excess` entries free enough.
            local oldest = redis.call('ZRANGE', w.key, 0, excess - 1, 'WITHSCORES')
            local freed = 0
            for j = 1, #oldest, 2 do
                freed = freed + cost_of(oldest[j])
                if freed >= excess then
                    until_free = tonumber(oldest[j + 1]) + w.span
                    break
                end
            end
            if until_free == nil then
                until_free = now + w.span
            end
        end
    else
        -- Buckets: a grant in bucket b counts until (b + 1) * width + span.
        local flat = redis.call('HGETALL', w.key)
        local live = {}
        for j = 1, #flat, 2 do
            local ends = (tonumber(flat[j]) + 1) * w.width + w.span
            if ends <= now then
                redis.call('HDEL', w.key, flat[j])
            else
                local c = tonumber(flat[j + 1])
                w.used = w.used + c
                live[#live + 1] = { ends, c }
            end
        end
        local excess = w.used + cost - w.limit
        if excess > 0 then
            table.sort(live, function(x, y) return x[1] < y[1] end)
            local freed = 0
            for _, e in ipairs(live) do
                freed = freed + e[2]
                if freed >= excess then
                    until_free = e[1]
                    break
                end
            end
            if until_free == nil then
                until_free = now + w.span + w.width
            end
        end
    end
    if until_free ~= nil and until_free - now > wait then
        wait = until_free - now
    end
    windows[i] = w
end

if wait > 0 then
    local wait_ms = math.ceil(wait / 1000)
    if wait > budget then
        redis.call('HINCRBY', KEYS[2], 'denied', 1)
        return { 2, wait_ms, now }
    end
    return { 0, wait_ms, now }
end

local sums_ttl = 0
for _, w in ipairs(windows) do
    if w.width == 0 then
        redis.call('ZADD', w.key, now, nonce .. ':' .. cost)
        redis.call('HSET', sums, w.field, w.used + cost)
        local ttl = math.ceil(w.span / 1000)
        redis.call('PEXPIRE', w.key, ttl)
        if ttl > sums_ttl then
            sums_ttl = ttl
        end
    else
        redis.call('HINCRBY', w.key, math.floor(now / w.width), cost)
        redis.call('PEXPIRE', w.key, math.ceil((w.span + w.width) / 1000))
    end
end
if sums_ttl > 0 then
    redis.call('PEXPIRE', sums, sums_ttl)
end
redis.call('HINCRBY', KEYS[2], 'acquired', 1)
redis.call('HINCRBY', KEYS[2], 'permits', cost)
if waited_ms > 0 then
    redis.call('HINCRBY', KEYS[2], 'waited', 1)
    redis.call('HINCRBY', KEYS[2], 'wait_ms', waited_ms)
end
return { 1, 0, now }
