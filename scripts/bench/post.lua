-- wrk script: POST a message into $THREAD as $TOKEN.
wrk.method = "POST"
wrk.path = "/api/v1/threads/" .. os.getenv("THREAD") .. "/messages"
if os.getenv("REPLY") then
  wrk.path = wrk.path .. "?reply=sync"
end
wrk.body = '{"content":"benchmark message with a few words in it"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
