--[[
  Asks Redis whether the caller's ACL user may run each of a list of commands, running none of
  them (redis.acl_check_cmd, Redis 7+). The commands' keys are arguments here, not KEYS: a declared
  key the user may not access would have Redis refuse this whole call without saying which.

  Input:
    ARGV       groups, each: n, then a command and its n - 1 arguments
  Output:
    {'unsupported'}              Redis before 7.0 (no redis.acl_check_cmd): nothing was checked
    {'checked', a1, a2, ...}     per group, 1 when the user may run it, 0 when not
]]
if not redis.acl_check_cmd then
  return {'unsupported'}
end
local allowed = {'checked'}
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  allowed[#allowed + 1] = redis.acl_check_cmd(unpack(ARGV, i + 1, i + n)) and 1 or 0
  i = i + n + 1
end
return allowed
