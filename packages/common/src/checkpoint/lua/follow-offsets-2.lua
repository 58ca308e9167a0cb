--[[
  Moves partitions' offsets forward to those a sink's own store holds (the authority for sinks
  that keep offsets themselves, e.g. postgresSink): the sink committed further than Redis heard
  of (a process died between the two commits). Only forward, and only for a current epoch: an
  offset at or past the sink's is left alone, and a fenced driver changes nothing.

  Input:
    KEYS[1]    offsets hash        (field topic:partition -> next offset to read)
    KEYS[2]    epoch               (fencing counter)
    ARGV[1]    caller's epoch      (decimal string)
    ARGV[2..]  pairs: offsets field "topic:partition", the sink's offset (decimal string)
  Output:
    {'ok', field, from, to, ...}   one triple per offset moved (from = '' when there was none)
    {'fenced', currentEpoch}       caller's epoch is stale; nothing changed
]]
--- @include "offsets"
local rcall = redis.call

local current = rcall('GET', KEYS[2])
if current ~= ARGV[1] then
  return {'fenced', current}
end
local reply = {'ok'}
for i = 2, #ARGV, 2 do
  local field, offset = ARGV[i], ARGV[i + 1]
  local stored = rcall('HGET', KEYS[1], field)
  if not stored or compareOffsets(stored, offset) < 0 then
    rcall('HSET', KEYS[1], field, offset)
    reply[#reply + 1] = field
    reply[#reply + 1] = stored or ''
    reply[#reply + 1] = offset
  end
end
return reply
