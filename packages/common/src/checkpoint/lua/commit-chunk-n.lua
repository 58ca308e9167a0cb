--[[
  Commits one chunk of a task: applies the sink's writes and advances the partition's offset from
  ARGV[2] to ARGV[3], in one atomic step, and only if
    - ARGV[4] is the current driver epoch (a fenced driver's task can change nothing), and
    - the stored offset equals ARGV[2] (a retry, a duplicate or a zombie finds it moved: no-op).

  Input (numKeys = 2 + number of distinct sink keys):
    KEYS[1]    offsets hash        (field topic:partition -> next offset to read)
    KEYS[2]    epoch               (fencing counter)
    KEYS[3..]  sink keys           (same hash tag as the job)
    ARGV[1]    offsets field       "topic:partition"
    ARGV[2]    from offset         (decimal string)
    ARGV[3]    until offset        (decimal string)
    ARGV[4]    caller's epoch      (decimal string)
    ARGV[5..]  writes, 4 values each: op, key index into KEYS, arg1, arg2
               op is one of hincrby, incrby, hset, set, sadd, rpush ('' for an unused arg)
  Output:
    {'committed'}                  writes applied, offset = until
    {'skipped', stored}            stored offset (or false when absent) was not `from`; nothing applied
    {'fenced', currentEpoch}       caller's epoch is stale; nothing applied
]]
local rcall = redis.call

local current = rcall('GET', KEYS[2])
if current ~= ARGV[4] then
  return {'fenced', current}
end

local stored = rcall('HGET', KEYS[1], ARGV[1])
if stored ~= ARGV[2] then
  return {'skipped', stored}
end

for i = 5, #ARGV, 4 do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  if op == 'hincrby' then
    rcall('HINCRBY', key, a, b)
  elseif op == 'incrby' then
    rcall('INCRBY', key, a)
  elseif op == 'hset' then
    rcall('HSET', key, a, b)
  elseif op == 'set' then
    rcall('SET', key, a)
  elseif op == 'sadd' then
    rcall('SADD', key, a)
  elseif op == 'rpush' then
    rcall('RPUSH', key, a)
  else
    return redis.error_reply('unknown sink write ' .. tostring(op))
  end
end

rcall('HSET', KEYS[1], ARGV[1], ARGV[3])
return {'committed'}
