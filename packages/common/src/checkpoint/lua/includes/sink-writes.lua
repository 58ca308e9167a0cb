--[[
  Shared by the scripts that apply a sink's writes. A write is {op, key, arg1, arg2}; op is one of
  hincrby, incrby, hset, set, sadd, rpush.

  Redis does not roll back the writes a script made before an error, so checkSinkWrites validates
  every write first (known op, declared key of the right type, integer increments), and a script
  applies nothing when it returns a reason.
]]
local expectedType = { hincrby = 'hash', hset = 'hash', incrby = 'string', set = 'string', sadd = 'set', rpush = 'list' }
-- Per call of the including script (a script commits many entries, often to the same keys): the
-- declared sink keys, and each sink key's type in Redis as read or as made by applySinkWrites.
local declared, declaredFrom = nil, nil
local typeInRedis = {}

local function checkSinkWrites(writes, firstSinkKey)
  if declaredFrom ~= firstSinkKey then
    declared, declaredFrom = {}, firstSinkKey
    for i = firstSinkKey, #KEYS do declared[KEYS[i]] = true end
  end
  local typeOf = {} -- as these writes leave the keys
  for _, w in ipairs(writes) do
    local op, key = w[1], w[2]
    local wanted = expectedType[op]
    if wanted == nil then
      return 'unknown sink write ' .. tostring(op)
    end
    if not declared[key] then
      return op .. ' on undeclared key ' .. tostring(key)
    end
    if typeOf[key] == nil then
      typeInRedis[key] = typeInRedis[key] or redis.call('TYPE', key)['ok']
      typeOf[key] = typeInRedis[key]
    end
    if typeOf[key] == 'none' then
      typeOf[key] = wanted -- the first write creates it; later writes must agree
    elseif typeOf[key] ~= wanted then
      return op .. ' on ' .. key .. ', which holds a ' .. typeOf[key]
    end
    local increment = (op == 'hincrby' and w[4]) or (op == 'incrby' and w[3]) or nil
    if increment ~= nil and not string.match(increment, '^-?%d+$') then
      return op .. ' on ' .. key .. ' by a non-integer ' .. increment
    end
  end
  return nil
end

local function applySinkWrites(writes)
  for _, w in ipairs(writes) do
    local op, key, a, b = w[1], w[2], w[3], w[4]
    if op == 'hincrby' then
      redis.call('HINCRBY', key, a, b)
    elseif op == 'incrby' then
      redis.call('INCRBY', key, a)
    elseif op == 'hset' then
      redis.call('HSET', key, a, b)
    elseif op == 'set' then
      redis.call('SET', key, a)
    elseif op == 'sadd' then
      redis.call('SADD', key, a)
    elseif op == 'rpush' then
      redis.call('RPUSH', key, a)
    end
    typeInRedis[key] = expectedType[op]
  end
end

-- ARGV[first..last] (last: the end of ARGV when omitted), 4 values per write: op, key index into
-- KEYS, arg1, arg2.
local function sinkWritesFromArgv(first, last)
  local writes = {}
  for i = first, last or #ARGV, 4 do
    writes[#writes + 1] = {ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]}
  end
  return writes
end
