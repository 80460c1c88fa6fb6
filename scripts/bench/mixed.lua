-- wrk script: a mix of reads and writes on $THREAD as $TOKEN:
-- 60% list 50 messages, 25% post a message, 15% read the thread.
local token = "Bearer " .. os.getenv("TOKEN")
local thread = os.getenv("THREAD")
local list = "/api/v1/threads/" .. thread .. "/messages?limit=50"
local one = "/api/v1/threads/" .. thread
local post = "/api/v1/threads/" .. thread .. "/messages"
local body = '{"content":"mixed load message"}'
local statuses = {}

request = function()
  local r = math.random(100)
  local headers = { ["Authorization"] = token }
  if r <= 60 then
    return wrk.format("GET", list, headers)
  elseif r <= 85 then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", post, headers, body)
  else
    return wrk.format("GET", one, headers)
  end
end

response = function(status, headers, body)
  if status >= 500 then
    io.write("5xx: " .. status .. " " .. body .. "\n")
  end
end
