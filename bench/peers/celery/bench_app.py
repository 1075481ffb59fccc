"""The Celery side of `npm run bench`: one app, its three tasks, and the clocks inside the worker.

A worker runs it as `python3 -m celery -A bench_app worker ...` (driver.py starts it; `-m celery` so that
`-P gevent` / `-P eventlet` monkey-patch before anything else is imported). Everything that varies comes from
the environment driver.py sets, so one module serves every run:

  BENCH_CELERY_URL         the Redis the bench uses, broker and result backend alike
  BENCH_CELERY_QUEUE       this worker's queue (unique per worker: every key it leaves carries the name)
  BENCH_CELERY_ACKS_LATE   "1": ack after the task ran (at least once, like mini-queue); "0": Celery's default
  BENCH_CELERY_PREFETCH    worker_prefetch_multiplier (Celery's default is 4)
  BENCH_CELERY_SHARED_BACKEND  "1": one result backend for the whole process (what Celery 5.3's
                           result_backend_thread_safe does); "0": Celery 5.2's, one per thread, which under
                           gevent and eventlet is one per greenlet, so one per task (celery/celery#7960)
  BENCH_CELERY_CLOCKS      "1": time runs inside this process (every pool but prefork, whose tasks run in
                           child processes and time themselves: see `fib`)
  BENCH_CELERY_HTTP_POOL   keep-alive connections `fetch` may hold (the worker's concurrency)

The clocks (task_prerun / task_postrun): a run is a batch of tasks sharing a run id, each told the batch size
in its first two arguments. At the run's first task_prerun the worker notes the monotonic time and its own CPU
time (getrusage: every thread of this process); at the task_postrun that completes the batch it notes both
again and pushes one JSON report to `<queue>.report`, which the driver waits on. task_postrun comes after the
result is stored, so the window holds everything a task costs the worker but the last ack; the worker's boot,
and the producer's enqueueing, are outside it.
"""

import json
import os
import re
import resource
import threading
import time

from celery import Celery, signals

URL = os.environ["BENCH_CELERY_URL"]
QUEUE = os.environ["BENCH_CELERY_QUEUE"]

app = Celery("bench_app", broker=URL, backend=URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=os.environ.get("BENCH_CELERY_ACKS_LATE", "1") == "1",
    worker_prefetch_multiplier=int(os.environ.get("BENCH_CELERY_PREFETCH", "4")),
    # JSON both ways, as mini-queue's envelopes and results are.
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # The redelivery mechanism's keys default to shared names (`unacked`, ...): per queue, so the bench deletes
    # its own and never another app's.
    broker_transport_options={
        "visibility_timeout": 3600,
        "unacked_key": f"{QUEUE}.unacked",
        "unacked_index_key": f"{QUEUE}.unacked_index",
        "unacked_mutex_key": f"{QUEUE}.unacked_mutex",
    },
    # No remote control, events or clock sync: they would add shared keys (`_kombu.binding.celery.pidbox`, ...)
    # and traffic mini-queue's worker does not have.
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    task_send_sent_event=False,
    worker_hijack_root_logger=False,
)

if os.environ.get("BENCH_CELERY_SHARED_BACKEND") == "1":
    from celery.app.defaults import DEFAULTS

    if "result_backend_thread_safe" in DEFAULTS:  # Celery 5.3 and later: its own setting
        app.conf.result_backend_thread_safe = True
    else:
        # Celery 5.2 keeps app.backend in a threading.local; 5.3's setting keeps one for the process instead.
        # Same effect here: the first backend made is the one every thread and greenlet gets.
        _shared = app.backend
        type(app).backend = property(lambda self: _shared)


@app.task(name="noop")
def noop(run, size):
    return None


@app.task(name="fib")
def fib(run, size, n):
    """Times itself (monotonic: one clock for every process on the machine), as prefork runs it in a child."""
    started = time.monotonic()
    value = _fib(n)
    return [started, time.monotonic(), value]


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


_TITLE = re.compile(r"<title>([^<]*)</title>")
_LINK = re.compile(r'href="([^"]+)"')
_http = None


@app.task(name="fetch")
def fetch(run, size, url):
    """scrapePage's work in Python: a GET on a keep-alive connection, the title and the links of the page."""
    global _http
    if _http is None:
        import urllib3  # imported here: under gevent/eventlet, after the monkey-patching

        pool = int(os.environ.get("BENCH_CELERY_HTTP_POOL", "10"))
        _http = urllib3.PoolManager(maxsize=pool, block=False, retries=False)
    reply = _http.request("GET", url)
    if not 200 <= reply.status <= 299:
        raise RuntimeError(f"GET {url}: HTTP {reply.status}")
    html = reply.data.decode()
    title = _TITLE.search(html)
    return {"url": url, "title": title.group(1) if title else "", "links": len(_LINK.findall(html))}


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if os.environ.get("BENCH_CELERY_CLOCKS") == "1":
    _lock = threading.Lock()  # the threads pool runs the handlers on its threads
    _runs = {}
    _redis = None

    @signals.task_prerun.connect
    def _started(task_id=None, task=None, args=(), **_):
        run = args[0]
        with _lock:
            if run not in _runs:
                _runs[run] = {"start": time.monotonic(), "cpu": _cpu_seconds(), "done": 0}

    @signals.task_postrun.connect
    def _finished(task_id=None, task=None, args=(), state=None, **_):
        global _redis
        run, size = args[0], args[1]
        with _lock:
            clock = _runs[run]
            clock["done"] += 1
            if state != "SUCCESS":
                clock["failed"] = clock.get("failed", 0) + 1
            if clock["done"] < size:
                return
            seconds = time.monotonic() - clock["start"]
            cpu = _cpu_seconds() - clock["cpu"]
            del _runs[run]
        report = {"run": run, "tasks": size, "startedAt": clock["start"], "seconds": seconds,
                  "cpuSeconds": cpu, "failed": clock.get("failed", 0)}
        if _redis is None:
            import redis

            _redis = redis.Redis.from_url(URL)
        _redis.rpush(f"{QUEUE}.report", json.dumps(report))


@signals.worker_ready.connect
def _ready(**_):
    import redis

    client = redis.Redis.from_url(URL)
    client.rpush(f"{QUEUE}.ready", str(os.getpid()))
    client.close()
