"""The Celery side of `npm run bench`, driven by bench/peers/celery.ts: one JSON command a line on stdin, one
JSON reply a line on stdout (anything else it prints goes to stderr).

  {"op": "calibrate", "ms": 30}
      -> {"n": 27, "ms": 31.2}: the smallest n for which fib(n) takes `ms` in this interpreter
  {"op": "drain", "pool": "threads", "concurrency": 50, "tasks": 5000, "acksLate": true, ...}
      -> section 1: `tasks` no-ops enqueued on a fresh queue, then drained by a fresh worker process, timed
         inside it (bench_app.py); the worker is stopped and every key of the queue deleted before the reply
  {"op": "start", "name": "gevent-100", "pool": "gevent", "concurrency": 100, ...}
      -> a worker kept warm for several batches (sections 3 and 4), on a queue of its own; replies once ready
  {"op": "batch", "name": "gevent-100", "task": "fetch", "args": ["http://..."], "tasks": 3000}
      -> one batch through that worker: the worker's own clocks, or for prefork the makespan of the tasks' own
         start and end times (first start to last end), which the tasks return
  {"op": "stop", "name": "gevent-100"}

A failure replies {"error": "..."}. When stdin closes (the bench ended, or died) or on SIGINT/SIGTERM, every
worker is stopped and every key this driver made is deleted; nothing else is ever deleted (no FLUSHDB).

Worker options for every pool (section 1 adds acks and the backend setting): --without-mingle, --without-gossip,
--without-heartbeat, remote control off (bench_app.py), so a worker does what mini-queue's does and no more.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import redis
from celery import Celery
from celery.result import ResultSet

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["BENCH_CELERY_URL"]
# Every key this driver makes starts with PREFIX or with one of Celery's fixed prefixes followed by it.
PREFIX = f"bench-celery-{os.getpid()}-"

# Tasks a run sends through Celery's producer; the rest are copies (Worker.enqueue).
SAMPLE = 200

_redis = redis.Redis.from_url(URL)
_workers = {}
_queues = 0


def _new_queue():
    global _queues
    _queues += 1
    return f"{PREFIX}{_queues}"


def _patterns(queue):
    """Every key Celery, kombu and bench_app make for `queue` (the unique name ends where `.` or \\x06 begins)."""
    return [queue, f"{queue}.*", f"{queue}\x06*", f"_kombu.binding.{queue}", f"_kombu.binding.{queue}.*",
            f"celery-task-meta-{queue}-*"]


def _delete(patterns):
    for pattern in patterns:
        batch = []
        for key in _redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == 1000:
                _redis.unlink(*batch)
                batch = []
        if batch:
            _redis.unlink(*batch)


def _client(queue):
    """A producer for `queue`: the same app as the worker's, so the same message format and routing."""
    app = Celery("bench_producer", broker=URL, backend=URL)
    app.conf.update(task_default_queue=queue, task_serializer="json", result_serializer="json",
                    accept_content=["json"],
                    broker_transport_options={"unacked_key": f"{queue}.unacked",
                                              "unacked_index_key": f"{queue}.unacked_index",
                                              "unacked_mutex_key": f"{queue}.unacked_mutex"})
    return app


class Worker:
    def __init__(self, spec, clocks, queue=None):
        self.queue = queue or _new_queue()
        self.pool = spec["pool"]
        self.concurrency = int(spec["concurrency"])
        self.app = _client(self.queue)
        self.runs = 0
        env = dict(os.environ)
        env.update({
            "BENCH_CELERY_QUEUE": self.queue,
            "BENCH_CELERY_ACKS_LATE": "1" if spec.get("acksLate", True) else "0",
            "BENCH_CELERY_PREFETCH": str(spec.get("prefetch", 4)),
            "BENCH_CELERY_SHARED_BACKEND": "1" if spec.get("sharedBackend", False) else "0",
            "BENCH_CELERY_CLOCKS": "1" if clocks else "0",
            "BENCH_CELERY_HTTP_POOL": str(self.concurrency),
            "PYTHONPATH": HERE + os.pathsep + env.get("PYTHONPATH", ""),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        self.spec = spec
        self.env = env
        self.proc = None
        self.log = None

    def spawn(self):
        argv = [sys.executable, "-m", "celery", "-A", "bench_app", "worker", "-P", self.pool,
                "-c", str(self.concurrency), "-Q", self.queue, "-n", f"{self.queue}@%h",
                "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "WARNING"]
        if self.pool == "prefork":
            argv += ["-O", "fair"]  # the documented setting for long tasks: a task goes to an idle child
        # Its banner and warnings (root, ...) go to a log, shown only when something fails. Its own session: a
        # Ctrl-C at the terminal reaches the driver, which stops it in order.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, cwd=HERE, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return time.monotonic()

    def failure(self, what):
        """An error naming the worker, with the end of its log (the traceback, when it died)."""
        tail = ""
        if self.log is not None:
            self.log.seek(0)
            lines = [line for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]
            tail = " | ".join(lines[-5:])
        exited = self.proc.poll() if self.proc is not None else None
        state = f" (exited {exited})" if exited is not None else ""
        return RuntimeError(f"celery worker -P {self.pool} -c {self.concurrency}{state}: {what}; log: {tail}")

    def wait(self, key, timeout):
        """BLPOP on `key`, a second at a time, so a worker that died is noticed at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            popped = _redis.blpop([key], timeout=1)
            if popped is not None:
                return popped[1]
            if self.proc is not None and self.proc.poll() is not None:
                raise self.failure("died")
        raise self.failure(f"nothing on {key} within {timeout:.0f} s")

    def wait_ready(self, timeout=120):
        self.wait(f"{self.queue}.ready", timeout)

    def enqueue(self, task, args, count, staged=False):
        """`count` tasks, the run id and size first in their arguments; returns (enqueue/s, ids).

        The first SAMPLE go through Celery's own API (apply_async, one message a round trip), which gives the
        producer's rate; the rest are copies of the last of those with their own ids, pushed in pipelined
        batches, byte for byte what apply_async would have pushed. Celery's producer is about as slow here as
        its worker drains, so sending them all through it would only lengthen the bench.

        `staged`: for a worker already running. The tasks go to a list of their own, which then becomes the
        worker's queue in one RENAME, so the worker meets a full queue as a fresh one does in section 1 (rather
        than racing the producer), and its clock starts then.
        """
        self.runs += 1
        run = self.runs
        ids = [f"{self.queue}-{run}-{i}" for i in range(count)]
        target = f"{self.queue}.staged" if staged else self.queue
        signature = self.app.signature(task, queue=target)
        sample = min(count, SAMPLE)
        with self.app.producer_or_acquire() as producer:
            producer.connection.ensure_connection()  # connecting is not sending
            started = time.monotonic()
            for task_id in ids[:sample]:
                signature.apply_async(args=[run, count, *args], task_id=task_id, producer=producer)
            per_sec = sample / (time.monotonic() - started)
        if count > sample:
            # kombu's Redis transport: a JSON envelope LPUSHed on the list named after the queue (priority 0).
            template = json.loads(_redis.lindex(target, 0))
            pipe = _redis.pipeline(transaction=False)
            for i, task_id in enumerate(ids[sample:]):
                template["headers"]["id"] = template["headers"]["root_id"] = task_id
                template["properties"]["correlation_id"] = task_id
                template["properties"]["delivery_tag"] = str(uuid.uuid4())
                pipe.lpush(target, json.dumps(template))
                if i % 1000 == 999:
                    pipe.execute()
            pipe.execute()
        if staged:
            # The worker pops whatever its queue's list holds, whatever routing key a message was published with.
            _redis.rename(target, self.queue)
        return per_sec, ids

    def report(self, timeout):
        report = json.loads(self.wait(f"{self.queue}.report", timeout))
        if report["failed"]:
            raise self.failure(f"{report['failed']} of {report['tasks']} tasks failed")
        return report

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                # Cold shutdown: the measurement is over, and a warm one waits for the pool (up to a second or
                # two here). To the main process only, which ends its pool's children itself. An unacked
                # message left behind is deleted below with the rest.
                os.kill(self.proc.pid, signal.SIGQUIT)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the whole session: children included
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self.log is not None:
            self.log.close()
            self.log = None
        _delete(_patterns(self.queue))


def _timeout(tasks):
    return 60 + tasks / 50  # generous: a stall is an error, a slow machine is not


def drain(cmd):
    """Section 1: a fresh queue and a fresh worker per run, as mini-queue's and the peers' runs are."""
    worker = Worker(cmd, clocks=True)
    try:
        enqueue_per_sec, ids = worker.enqueue("noop", [], int(cmd["tasks"]))
        spawned = worker.spawn()
        report = worker.report(_timeout(len(ids)))
        # Results stored, as ours are: the last task's, read back through Celery's API.
        last = worker.app.AsyncResult(ids[-1])
        if last.state != "SUCCESS":
            raise RuntimeError(f"noop {ids[-1]}: state {last.state}, expected SUCCESS")
        return {"enqueuePerSec": enqueue_per_sec, "seconds": report["seconds"],
                "cpuSeconds": report["cpuSeconds"], "bootSeconds": report["startedAt"] - spawned}
    finally:
        worker.stop()


def start(cmd):
    name = cmd["name"]
    if name in _workers:
        raise RuntimeError(f"a worker named {name} is running already")
    worker = Worker(cmd, clocks=cmd["pool"] != "prefork")
    _workers[name] = worker
    spawned = worker.spawn()
    try:
        worker.wait_ready()
    except Exception:
        del _workers[name]
        worker.stop()
        raise
    return {"queue": worker.queue, "bootSeconds": time.monotonic() - spawned}


def batch(cmd):
    worker = _workers[cmd["name"]]
    count = int(cmd["tasks"])
    enqueue_per_sec, ids = worker.enqueue(cmd["task"], cmd.get("args", []), count, staged=True)
    if worker.pool != "prefork":
        report = worker.report(_timeout(count))
        return {"enqueuePerSec": enqueue_per_sec, "seconds": report["seconds"],
                "cpuSeconds": report["cpuSeconds"]}
    # Prefork's tasks run in child processes; each returns its own start and end (one monotonic clock).
    results = ResultSet([worker.app.AsyncResult(i) for i in ids]).get(timeout=_timeout(count))
    starts, ends = [r[0] for r in results], [r[1] for r in results]
    values = {r[2] for r in results}
    if len(values) != 1:
        raise RuntimeError(f"fib gave different values: {sorted(values)}")
    return {"enqueuePerSec": enqueue_per_sec, "seconds": max(ends) - min(starts)}


def stop(cmd):
    worker = _workers.pop(cmd["name"], None)
    if worker is not None:
        worker.stop()
    return {}


def calibrate(cmd):
    """As kit/parallel.ts's calibrateFib: the smallest n whose fib takes at least `ms` here."""
    sys.path.insert(0, HERE)
    os.environ.setdefault("BENCH_CELERY_QUEUE", f"{PREFIX}calibrate")
    from bench_app import _fib

    _fib(20)
    for n in range(20, 40):
        started = time.perf_counter()
        _fib(n)
        ms = (time.perf_counter() - started) * 1000
        if ms >= cmd["ms"]:
            return {"n": n, "ms": ms}
    return {"n": 40, "ms": None}


OPS = {"calibrate": calibrate, "drain": drain, "start": start, "batch": batch, "stop": stop}


def _cleanup():
    for worker in list(_workers.values()):
        worker.stop()
    _workers.clear()
    # Anything a crashed run left: every key of this driver's queues.
    _delete([f"{PREFIX}*", f"_kombu.binding.{PREFIX}*", f"celery-task-meta-{PREFIX}*"])


def _interrupted(signum, _frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, _interrupted)
    out = sys.stdout
    sys.stdout = sys.stderr  # only replies on the real stdout
    out.write(json.dumps({"prefix": PREFIX}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                reply = OPS[cmd["op"]](cmd)
            except KeyboardInterrupt:
                raise
            except Exception as error:  # one line back to the bench, which says which run failed
                reply = {"error": f"{type(error).__name__}: {error}"}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        _cleanup()


if __name__ == "__main__":
    main()
