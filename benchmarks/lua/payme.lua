-- Payme's three Merchant API calls per payment (CheckPerformTransaction, CreateTransaction,
-- PerformTransaction), JSON-RPC with Basic auth, one order after another on each connection.
-- Data file lines: order number, total (tiyin), Payme transaction id, Payme time (ms).
-- wrk ... -s payme.lua URL -- DATA_FILE "Basic ..." THREADS
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup

local rows, row, step = {}, 1, 1
cycles, errors = 0, 0

function init(args)
  rows = common.share(args[1], index, tonumber(args[3]))
  wrk.method = "POST"
  wrk.headers["Authorization"] = args[2]
  wrk.headers["Content-Type"] = "text/json; charset=UTF-8"
end

local function body(order, which)
  local number, total, id, time = order[1], order[2], order[3], order[4]
  if which == 1 then
    return string.format('{"method":"CheckPerformTransaction","params":{"amount":%s,"account":{"order_id":"%s"}},"id":1}',
      total, number)
  elseif which == 2 then
    return string.format('{"method":"CreateTransaction","params":{"id":"%s","time":%s,"amount":%s,'
      .. '"account":{"order_id":"%s"}},"id":2}', id, time, total, number)
  end
  return string.format('{"method":"PerformTransaction","params":{"id":"%s"},"id":3}', id)
end

function request()
  local order = rows[row]
  if order == nil then
    wrk.thread:stop()
    order = rows[#rows]  -- wrk wants a request even while stopping; never sent
  end
  return wrk.format(nil, nil, nil, body(order, step))
end

function response(status, headers, reply)
  if status ~= 200 or reply:find('"error"', 1, true) then
    errors = errors + 1
    row, step = row + 1, 1  -- this payment failed: on to the next order
  elseif step == 3 then
    cycles = cycles + 1
    row, step = row + 1, 1
  else
    step = step + 1
  end
  if rows[row] == nil then wrk.thread:stop() end
end

function done() common.done({"cycles", "errors"}) end
