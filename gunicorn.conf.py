"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value comes from the environment so one file serves laptops and servers:

    GUNICORN_BIND      address to listen on (default 127.0.0.1:8000; `PORT` alone also works)
    WEB_CONCURRENCY    worker processes (default 2 × CPUs + 1, at most 8)
    GUNICORN_THREADS   threads per worker (default 1)
    GUNICORN_TIMEOUT   seconds before a silent worker is restarted (default 60; CSV exports stream)
    GUNICORN_LOGLEVEL  gunicorn's own log level (info by default)
    GUNICORN_ACCESSLOG gunicorn's access log ("-" for stdout, or a path); off by default because
                       the app logs one line per request itself, with its request id (README: Logging)
    GUNICORN_CONTROL_SOCKET  path of gunicorn's control socket (off by default)

Command-line flags override these values.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(multiprocessing.cpu_count() * 2 + 1, 8))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then so a slow leak can never take a host down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Large uploads are parsed in the worker; keep request line and header limits at the defaults.
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# Which proxies' X-Forwarded-* headers to believe is decided in ONE place, the app's
# TRUSTED_PROXY_HOPS setting (werkzeug ProxyFix); gunicorn itself trusts nobody.
forwarded_allow_ips = ""
# Heartbeat files on tmpfs when there is one (avoids stalls on slow disks).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
# gunicorn ≥ 25 opens a control socket at ~/.gunicorn/gunicorn.ctl by default, shared by every
# gunicorn of the user (tests run several at once): off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


def post_worker_init(worker):
    """Before this worker takes a request: load the search index (SEARCH_WARM_ON_START).

    In the worker itself and synchronously, not in a thread started by the app factory: the
    worker answers nothing until it is warm (its siblings do), no request competes with the
    warm-up for the GIL or its caches' lock, and nothing runs in the master to be forked
    half-done (a thread holding a lock at fork time leaves the lock held in every child).
    A failure is logged and the worker starts anyway (the first search then loads the index).

    Then everything the worker holds by now (the app, its modules, the warmed index columns),
    which lives as long as the worker, is moved out of the cyclic garbage collector's reach
    (`gc.freeze()`): its full passes no longer rescan it all, which made allocation-heavy pages
    (a draw certificate with its drawn list) up to three times slower (bench.pages)."""
    import gc

    from portal.search import warm_worker

    warm_worker(worker.wsgi, progress=worker.notify)  # heartbeats: the warm-up is not a hang
    gc.freeze()
