"""CPU per hot read, in process: what the limiter's request filter and the verified-session cache save.

    .venv/bin/python bench/readcpu_bench.py [--calls 400] [--repeats 7] [--output FILE]

Run by `bench/run.sh` (a step of its own) with the bench environment (``APP_ENV``, ``SECRET_KEY``, ``DATABASE_URL``
of the seeded bench database, ``REDIS_URL``): it builds the app with ``create_app()`` as ``wsgi.py`` does, and
calls ``app.wsgi_app`` directly (no server, no socket), so the figure is the app's own Python per request. Each
variant is ``--calls`` calls timed with ``time.process_time`` (this process's CPU, all threads: the invalidation
subscriber's included, which idles), repeated ``--repeats`` times with the variants interleaved; the minimum per
call is reported, the least disturbed by other work on the machine.

Variants:
- the timetable (``GET /api/course-schedule``, a cached body, ``X-Cache: hit-local``), raw and 304 — as shipped,
  and with ``UNLIMITED_BLUEPRINTS`` emptied, so Flask-Limiter's request filter exempts nothing and its per-request
  hook looks for app-wide limits on every read (there are none: the answers are the same);
- the feed (``GET /api/posts`` with a bearer token, a cached body) — as shipped, and with the verified-session
  cache made to miss every time (``recheck_seconds`` below zero), so every read checks its session and account
  with a query, as before the cache. (The query's wait for PostgreSQL is not CPU of this process; the client
  side of it is.)

The feed is whatever the bench database holds: after the catalogue step, the 50 posts × 20 comments of
``bench/feed_fixture.py``; alone (``BENCH_STEPS=readcpu``), the seed's demo posts.
"""
import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _call(app, environ):
    """One request through the WSGI app; (status code, headers dict, body length)."""
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split(" ", 1)[0]), dict(headers)

    body = app.wsgi_app(environ, start_response)
    try:
        length = sum(len(chunk) for chunk in body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return seen["status"], seen["headers"], length


def _environ(path, headers):
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _timed(app, environ, calls):
    environs = [dict(environ) for _ in range(calls)]
    started = time.process_time()
    for item in environs:
        _call(app, item)
    return (time.process_time() - started) / calls


def _measure(app, variants, *, calls, repeats):
    """{(name, shipped?): the least CPU per call}, the variants interleaved, each switched on and off in turn."""
    best = {}
    for _ in range(repeats):
        for name, environ, expected, _kind, toggle in variants:
            for on in (True, False):
                toggle(on)
                status, headers, _ = _call(app, dict(environ))  # also warms the path just switched
                if status != expected or headers.get("X-Cache") != "hit-local":
                    sys.exit(f"{name} ({'shipped' if on else 'without'}): {status}, X-Cache {headers.get('X-Cache')}")
                per_call = _timed(app, environ, calls)
                best[name, on] = min(best.get((name, on), per_call), per_call)
                toggle(True)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", help="also write the Markdown report to this file")
    args = parser.parse_args()

    from raf_network import create_app, extensions
    from raf_network.users.services import user_create, user_token_issue

    app = create_app()
    shipped_unlimited = extensions.UNLIMITED_BLUEPRINTS
    with app.app_context():
        email = f"bench-readcpu-{os.getpid()}@example.test"
        user_create(email=email, role="student", first_name="Bench", last_name="Cpu")
        token = user_token_issue(email=email)
    verified = app.extensions["verified_sessions"]
    shipped_recheck = verified.recheck_seconds

    timetable = _environ("/api/course-schedule", {})
    status, headers, length = _call(app, timetable)
    etag = headers.get("ETag")
    if status != 200 or not etag:
        sys.exit(f"GET /api/course-schedule answered {status} (ETag {etag!r}); the bench database is not seeded?")
    revalidation = _environ("/api/course-schedule", {"If-None-Match": etag})
    feed = _environ("/api/posts", {"Authorization": f"Bearer {token}"})
    feed_status, _, feed_length = _call(app, feed)
    if feed_status != 200:
        sys.exit(f"GET /api/posts answered {feed_status}")

    def limiter_filter(on):
        extensions.UNLIMITED_BLUEPRINTS = shipped_unlimited if on else frozenset()

    def session_cache(on):
        verified.recheck_seconds = shipped_recheck if on else -1.0

    variants = [
        ("timetable, raw 200", timetable, 200, "limiter", limiter_filter),
        ("timetable, 304 revalidation", revalidation, 304, "limiter", limiter_filter),
        ("feed (bearer token), raw 200", feed, 200, "sessions", session_cache),
    ]
    best = _measure(app, variants, calls=args.calls, repeats=args.repeats)
    load = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=False).stdout.strip() or "unknown"
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = [f"Run finished {finished} on commit {commit}. Generated by `bench/readcpu_bench.py`; "
             "do not edit between the markers.\n",
             f"CPU per request in process (`app.wsgi_app` called directly; `process_time`, min over {args.repeats} × "
             f"{args.calls} calls), `APP_ENV=production` with PostgreSQL and Redis; timetable {length:,} bytes, feed "
             f"{feed_length:,} bytes, both served from the process's cached body (`X-Cache: hit-local`).\n",
             "| request | as shipped | without | saved | without what |",
             "| --- | ---: | ---: | ---: | --- |"]
    for name, *_, kind, _toggle in variants:
        shipped, without = best[name, True] * 1e6, best[name, False] * 1e6
        what = ("the limiter's request filter (its hook checks for app-wide limits)" if kind == "limiter"
                else "the verified-session cache (a query per read)")
        lines.append(f"| {name} | {shipped:,.0f} µs | {without:,.0f} µs | {without - shipped:,.0f} µs | {what} |")
    lines.append(f"\nLoad average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs).")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
