-- wrk script: POST a vibegen "completed" callback with a task id unique to every request,
-- so a storing receiver does a real insert each time rather than answering a duplicate.
-- BENCH_PREFIX (environment) keeps ids of separate runs apart; each wrk thread adds its own
-- number and a counter.

local prefix = os.getenv("BENCH_PREFIX") or "bench"
local template = '{"event": "task.completed", "task_id": "%s-%d-%d", "status": "completed", '
  .. '"video_url": "https://cdn.example.com/videos/abc123.mp4", '
  .. '"created_at": "2025-03-10T10:00:00Z", "completed_at": "2025-03-10T10:02:30Z"}'

local threads = 0
counter = 0
thread_number = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format(template, prefix, thread_number, counter))
end
