-- Holds back the crossings of alerts in their cooldown (alerts::evaluate). An alert that fired
-- on a price fetched at T fires again only on a price fetched at least its cooldown away from T,
-- later or earlier: moves can be evaluated out of order (a batch taken over from an evaluator
-- that died, two evaluators sharing a backlog), so every firing within reach is kept, not only
-- the newest. A trigger evaluated again (its evaluator died, or the queue refused it) is never
-- held back by its own firing. A firing is recorded before its delivery is enqueued; a batch
-- whose enqueue failed is evaluated again and finds its own triggers here.
-- KEYS[2i-1] = alert i's firings (keys.alert_firings: ZSET of triggers by fetched ms),
-- KEYS[2i] = the alert itself (deleted meanwhile: nothing is recorded or delivered); an alert
-- may appear more than once, its crossings in the order of their moves
-- ARGV[3i-2] = the crossing's fetched ms, ARGV[3i-1] = the alert's cooldown ms,
-- ARGV[3i] = the crossing's trigger
-- Returns one flag per crossing: 1 to deliver, 0 not.
-- Firings older than the newest minus the cooldown and this much are dropped: a move evaluated
-- later than that is compared with the firings still kept.
local slack_ms = 3600000
local flags = {}
for i = 1, #KEYS / 2 do
  local firings, alert = KEYS[2 * i - 1], KEYS[2 * i]
  local fetched = tonumber(ARGV[3 * i - 2])
  local cooldown = tonumber(ARGV[3 * i - 1])
  local trigger = ARGV[3 * i]
  local deliver = 0
  if redis.call('EXISTS', alert) == 0 then
    deliver = 0
  elseif redis.call('ZSCORE', firings, trigger) then
    deliver = 1
  else
    local near = redis.call('ZRANGEBYSCORE', firings,
      string.format('(%.0f', fetched - cooldown), string.format('(%.0f', fetched + cooldown),
      'LIMIT', 0, 1)
    if #near == 0 then
      deliver = 1
      redis.call('ZADD', firings, ARGV[3 * i - 2], trigger)
      local newest = tonumber(redis.call('ZRANGE', firings, -1, -1, 'WITHSCORES')[2])
      redis.call('ZREMRANGEBYSCORE', firings, '-inf',
        string.format('(%.0f', newest - cooldown - slack_ms))
      redis.call('PEXPIRE', firings, cooldown + slack_ms)
    end
  end
  flags[i] = deliver
end
return flags
