-- Holds back the crossings of alerts in their cooldown (alerts::evaluate). An alert that fired
-- on a price fetched at T fires again only on a price fetched at least its cooldown away from T
-- (later, or earlier: a move evaluated late). A trigger evaluated again (its evaluator died, or
-- the queue refused it) is never held back by its own firing.
-- KEYS[i] = alert i's last firing (keys.alert_last_fired), `{fetched ms} {trigger}`; an alert may
-- appear more than once, its crossings in the order of their moves
-- ARGV[3i-2] = the crossing's fetched ms, ARGV[3i-1] = the alert's cooldown ms,
-- ARGV[3i] = the crossing's trigger
-- Returns one flag per crossing: 1 to deliver, 0 held back.
local slack_ms = 3600000
local flags = {}
for i, key in ipairs(KEYS) do
  local fetched = tonumber(ARGV[3 * i - 2])
  local cooldown = tonumber(ARGV[3 * i - 1])
  local trigger = ARGV[3 * i]
  local last = redis.call('GET', key)
  local deliver, record = 1, true
  if last then
    local space = string.find(last, ' ', 1, true)
    local at = tonumber(string.sub(last, 1, space - 1))
    local fired = string.sub(last, space + 1)
    if fired == trigger then
      record = false
    elseif math.abs(fetched - at) < cooldown then
      deliver = 0
    end
  end
  if deliver == 1 and record then
    redis.call('SET', key, ARGV[3 * i - 2] .. ' ' .. trigger, 'PX', cooldown + slack_ms)
  end
  flags[i] = deliver
end
return flags
