-- Click's SHOP API per payment: a signed Prepare, then a Complete signed with the
-- merchant_prepare_id the Prepare answered (MD5 from the libcrypto wrk is linked with).
-- Data file lines: Prepare body, Complete body without merchant_prepare_id and sign_string,
-- the sign text before merchant_prepare_id, the sign text after it.
-- wrk ... -s click.lua URL -- DATA_FILE THREADS
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local ffi = require("ffi")
ffi.cdef [[unsigned char *MD5(const unsigned char *d, size_t n, unsigned char *md);]]
setup = common.setup

local digest = ffi.new("unsigned char[16]")
local function md5hex(text)
  ffi.C.MD5(text, #text, digest)
  local out = {}
  for i = 0, 15 do out[i + 1] = string.format("%02x", digest[i]) end
  return table.concat(out)
end

local rows, row, complete = {}, 1, nil
payments, errors = 0, 0

function init(args)
  rows = common.share(args[1], index, tonumber(args[2]))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local order = rows[row] or rows[#rows]
  if rows[row] == nil then wrk.thread:stop() end
  if complete then
    return wrk.format(nil, "/click/complete", nil, complete)
  end
  return wrk.format(nil, "/click/prepare", nil, order[1])
end

function response(status, headers, reply)
  local order = rows[row]
  local ok = status == 200 and reply:find('"error":0', 1, true)
  if not ok then
    errors = errors + 1
    row, complete = row + 1, nil
  elseif complete then
    payments = payments + 1
    row, complete = row + 1, nil
  else
    local id = reply:match('"merchant_prepare_id":%s*(%d+)')
    complete = order[2] .. "&merchant_prepare_id=" .. id .. "&sign_string=" .. md5hex(order[3] .. id .. order[4])
  end
  if rows[row] == nil then wrk.thread:stop() end
end

function done() common.done({"payments", "errors"}) end
