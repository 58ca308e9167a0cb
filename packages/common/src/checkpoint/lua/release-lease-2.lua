--[[
  Releases the job's leader lease on a clean stop, only if the caller owns it (compare-and-delete),
  with the leader info published next to it.

  Input:
    KEYS[1]    leader              (string: driver id of the lease owner, with a TTL)
    KEYS[2]    leader:info         (string: JSON, the owner's addresses)
    ARGV[1]    caller's driver id
  Output:
    {'ok'}                         deleted
    {'lost', owner}                not the caller's (expired, or another driver's); left alone
]]
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then
  return {'lost', owner}
end
redis.call('DEL', KEYS[1], KEYS[2])
return {'ok'}
