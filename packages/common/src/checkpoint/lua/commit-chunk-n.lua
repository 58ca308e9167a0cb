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
    {'invalid', reason}            a write cannot be applied (wrong key type, non-integer increment); nothing applied
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

-- Redis does not roll back the writes a script made before an error, so every write is checked
-- first (known op, key of the right type, integer increments): a bad chunk applies nothing.
local expectedType = { hincrby = 'hash', hset = 'hash', incrby = 'string', set = 'string', sadd = 'set', rpush = 'list' }
local typeOf = {}
for i = 5, #ARGV, 4 do
  local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  local wanted = expectedType[op]
  if wanted == nil then
    return {'invalid', 'unknown sink write ' .. tostring(op)}
  end
  typeOf[key] = typeOf[key] or rcall('TYPE', key)['ok']
  if typeOf[key] == 'none' then
    typeOf[key] = wanted -- the first write creates it; later writes must agree
  elseif typeOf[key] ~= wanted then
    return {'invalid', op .. ' on ' .. key .. ', which holds a ' .. typeOf[key]}
  end
  local increment = (op == 'hincrby' and ARGV[i + 3]) or (op == 'incrby' and ARGV[i + 2]) or nil
  if increment ~= nil and not string.match(increment, '^-?%d+$') then
    return {'invalid', op .. ' on ' .. key .. ' by a non-integer ' .. increment}
  end
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
  end
end

rcall('HSET', KEYS[1], ARGV[1], ARGV[3])
return {'committed'}
