"""Helpers for `bench/run.sh` (`make bench`), run with the project's venv Python.

Subcommands (each prints nothing but its result or a reason for failing):

    free-port                                   a free TCP port on 127.0.0.1
    db-create SERVER_URL NAME / db-drop SERVER_URL NAME
    redis-flush REDIS_URL
    wait-http URL PID SECONDS                   poll URL until 200 (fails early if PID dies)
    capture BASE_URL PATH DIR [--header H]      save the real app's raw, gzip and 304 responses
    verify BASE_URL PATH DIR [--header H]       check another server answers with exactly those bytes
    measure --real URL --bare URL --etag ETAG --out FILE.json [--header H]   the wrk runs (sequential, interleaved)
    report RESULTS.json CAPTURE_DIR OUT.md [--subject timetable|feed]   the Markdown figures section
    splice DOC NAME FILE.md                     put FILE.md between <!-- NAME:begin/end --> in DOC

Standard library only (plus psycopg and redis from requirements.txt for db-*/redis-flush).
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

SCENARIOS = (
    # name, description (of the subject's response), extra wrk headers (the ETag is filled in)
    ("raw", "{what}, raw JSON", []),
    ("gzip", "{what}, `Accept-Encoding: gzip`", ["Accept-Encoding: gzip"]),
    ("304", "revalidation, `If-None-Match: <etag>` → 304", ["If-None-Match: {etag}"]),
)
# What is measured: the response's name in the tables, and the data behind it. Both are read by the same wrk runs
# against the same kind of bare baseline; --header adds request headers to every request of both (the feed's
# bearer token: the real app checks it on every request, as for the released app).
SUBJECTS = {
    "timetable": {"what": "full timetable", "data": "the seeded RAF timetable (326 entries)"},
    "feed": {"what": "feed (50 posts × 20 comments)",
             "data": "the demo network plus 50 posts × 20 comments by 25 authors with pictures "
                     "(`bench/feed_fixture.py`), read with a student's bearer token "
                     "(checked on every request, from the verified-session cache after the first)"},
}
TARGETS = ("real", "bare")
# Ratio targets from issue 2: throughput real/bare (≥) and gzip size/raw size (≤).
TARGET_RAW_RATIO = 0.40
TARGET_304_RATIO = 0.60
TARGET_GZIP_SIZE_RATIO = 0.15
# The feed (issue 9): served at ≥ 40% of the bare limit for the same bytes; its 304 and gzip are reported only.
TARGET_FEED_RAW_RATIO = 0.40


def fail(message):
    print(f"benchlib: {message}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------------------------------------
# processes, database, cache
# ------------------------------------------------------------------------------------------------

def cmd_free_port(_args):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])


def _admin(server_url):
    import psycopg

    return psycopg.connect(server_url, autocommit=True, connect_timeout=5)


def _ident(name):
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        fail(f"refusing database name {name!r} (lowercase letters, digits, underscore only)")
    return f'"{name}"'


def cmd_db_create(args):
    with _admin(args.server_url) as conn:
        # The bench database is ours alone: a leftover from an interrupted run is dropped, never reused.
        conn.execute(f"DROP DATABASE IF EXISTS {_ident(args.name)} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {_ident(args.name)}")


def cmd_db_drop(args):
    with _admin(args.server_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_ident(args.name)} WITH (FORCE)")


def cmd_redis_flush(args):
    import redis

    client = redis.Redis.from_url(args.url, socket_connect_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


def _get(url, headers=None, timeout=5):
    """One GET without any decoding: (status, reason, [(name, value)], body bytes)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return response.status, response.reason, response.getheaders(), response.read()
    finally:
        conn.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cmd_wait_http(args):
    deadline = time.monotonic() + args.seconds
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not _alive(args.pid):
            fail(f"process {args.pid} exited before {args.url} answered ({last})")
        try:
            status, _, _, body = _get(args.url, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200]!r}"
        except OSError as exc:
            last = f"{exc.__class__.__name__}: {exc}"
        time.sleep(0.25)
    fail(f"{args.url} not ready after {args.seconds}s ({last})")


# ------------------------------------------------------------------------------------------------
# capture and verify the responses
# ------------------------------------------------------------------------------------------------

def _header(headers, name):
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def _header_bytes(status, reason, headers):
    """Size of the status line and headers as sent (HTTP/1.1, CRLF)."""
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in headers]
    return len(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _extra_headers(args):
    """``--header "Name: value"`` options as a dict."""
    headers = {}
    for header in args.header or []:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    return headers


def _variants(etag_header):
    return {"raw": {}, "gzip": {"Accept-Encoding": "gzip"}, "304": {"If-None-Match": etag_header}}


def cmd_capture(args):
    """Ask the real app until each variant comes from the worker's own memory (X-Cache: hit-local),
    the steady state the benchmark measures, and save it for the bare app."""
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    extra = _extra_headers(args)
    status, _, headers, _ = _get(args.base_url + args.path, extra)
    etag_header = _header(headers, "ETag")
    if status != 200 or not etag_header:
        fail(f"GET {args.path} gave {status} with ETag {etag_header!r}")
    etag = re.fullmatch(r'(?:W/)?"([^"]+)"', etag_header)
    if not etag:
        fail(f"unexpected ETag {etag_header!r}")
    (out / "etag").write_text(etag.group(1) + "\n", encoding="ascii")
    (out / "etag_header").write_text(etag_header + "\n", encoding="ascii")
    expected = {"raw": (200, None), "gzip": (200, "gzip"), "304": (304, None)}
    for variant, request_headers in _variants(etag_header).items():
        for _ in range(20):  # two workers, each builds its local copy on its first request
            status, reason, headers, body = _get(args.base_url + args.path, {**extra, **request_headers})
            if _header(headers, "X-Cache") == "hit-local":
                break
        want_status, want_encoding = expected[variant]
        if status != want_status or _header(headers, "Content-Encoding") != want_encoding:
            fail(f"{variant}: got {status} {_header(headers, 'Content-Encoding')!r}, "
                 f"wanted {want_status} {want_encoding!r}")
        (out / f"{variant}.body").write_bytes(body)
        meta = {"status": status, "status_line": f"{status} {reason.upper()}", "headers": headers,
                "header_bytes": _header_bytes(status, reason, headers), "body_bytes": len(body)}
        (out / f"{variant}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        print(f"captured {variant}: HTTP {status}, {len(body)} body bytes, X-Cache {_header(headers, 'X-Cache')}")


def cmd_verify(args):
    """The baseline must answer every variant with the real app's status and exact body bytes."""
    capture = Path(args.dir)
    etag_header = (capture / "etag_header").read_text(encoding="ascii").strip()
    report = {}
    for variant, request_headers in _variants(etag_header).items():
        meta = json.loads((capture / f"{variant}.json").read_text(encoding="utf-8"))
        status, reason, headers, body = _get(args.base_url + args.path, {**_extra_headers(args), **request_headers})
        if status != meta["status"] or body != (capture / f"{variant}.body").read_bytes():
            fail(f"{args.base_url}: {variant} differs from the real app (HTTP {status}, {len(body)} bytes)")
        report[variant] = _header_bytes(status, reason, headers)
    (capture / "bare_header_bytes.json").write_text(json.dumps(report), encoding="utf-8")
    print("verified: same status and body bytes for " + ", ".join(report))


# ------------------------------------------------------------------------------------------------
# measure
# ------------------------------------------------------------------------------------------------

def _wrk_command(args, url, scenario_headers, duration):
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}", "--latency",
               "-s", os.path.relpath(Path(__file__).with_name("wrk_summary.lua"))]
    for header in scenario_headers:
        command += ["-H", header.format(etag=args.etag)]
    for header in args.header or []:
        command += ["-H", header]
    return command + [url]


def _wrk(command):
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((line for line in result.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if result.returncode != 0 or line is None:
        fail(f"{shlex.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line[len("WRK_JSON "):])
    figures["requests_per_s"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(value for key, value in figures.items() if key.startswith("errors_"))
    return figures


def _loadavg():
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _redacted(args, command):
    """A command as shown in the report: the ETag and any bearer token replaced by placeholders."""
    command = command.replace(args.etag, "<etag>")
    return re.sub(r"Bearer [A-Za-z0-9._~+/=-]+", "Bearer <token>", command)


def cmd_measure(args):
    """Every (round, scenario, target) in turn, never two at once; real and bare interleaved so that
    a noisy neighbour on the shared machine hits both sides alike. Each run has its own warm-up."""
    urls = {"real": args.real, "bare": args.bare}
    load_before = _loadavg()
    runs = []
    for round_ in range(1, args.rounds + 1):
        for scenario, _, headers in SCENARIOS:
            for target in TARGETS:
                _wrk(_wrk_command(args, urls[target], headers, args.warmup))
                command = _wrk_command(args, urls[target], headers, args.duration)
                figures = _wrk(command)
                runs.append({"round": round_, "scenario": scenario, "target": target, **figures})
                print(f"round {round_} {scenario:>4} {target}: {figures['requests_per_s']:9.1f} req/s, "
                      f"p99 {figures['latency_p99_us'] / 1000:7.2f} ms, errors {figures['errors']}", flush=True)
    path = urlsplit(args.real).path
    example = {name: _redacted(args, shlex.join(_wrk_command(args, f"http://127.0.0.1:PORT{path}", headers,
                                                              args.duration)))
               for name, _, headers in SCENARIOS}
    results = {
        "parameters": {"threads": args.threads, "connections": args.connections, "duration": args.duration,
                       "warmup": args.warmup, "rounds": args.rounds, "workers": args.workers},
        "commands": example,
        "runs": runs,
        "loadavg": {"before": load_before, "after": _loadavg()},
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------

def _machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout
    import gunicorn

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip() or "unknown"
    # What is measured: the app and its server settings (not the bench scripts or the docs).
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "raf_network", "config.py",
                            "wsgi.py", "gunicorn.conf.py", "requirements.txt"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "python": platform.python_version(), "gunicorn": gunicorn.__version__,
        "wrk": (wrk.split(" [")[0].strip() or "wrk"),
        "commit": commit + (" (app code with uncommitted changes)" if dirty else ""),
    }


def _medians(runs):
    """Per (request kind, target): median and range of req/s, median p99. Per request kind: the ratio
    real/bare of each round (the two runs were back to back) and their median, which is what is compared
    with the targets: on a shared machine the load drifts between rounds, much less within one pair."""
    table = {}
    for scenario, _, _ in SCENARIOS:
        by_target = {}
        for target in TARGETS:
            mine = [run for run in runs if run["scenario"] == scenario and run["target"] == target]
            rps = [run["requests_per_s"] for run in mine]
            by_target[target] = {run["round"]: run["requests_per_s"] for run in mine}
            table[scenario, target] = {
                "rps": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
                "p99_ms": statistics.median(run["latency_p99_us"] for run in mine) / 1000,
                "errors": sum(run["errors"] for run in mine),
            }
        ratios = [by_target["real"][r] / by_target["bare"][r] for r in sorted(by_target["real"])]
        table[scenario, "ratio"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    return table


def _verdict(value, target, at_least):
    ok = value >= target if at_least else value <= target
    return "met" if ok else "**missed**"


def _figures_table(table, capture, what):
    rows = [
        "| request | real app req/s (min–max) | real p99 | bare WSGI req/s (min–max) | bare p99 "
        "| real/bare (min–max) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, description, _ in SCENARIOS:
        real, bare, ratio = table[scenario, "real"], table[scenario, "bare"], table[scenario, "ratio"]
        rows.append(
            f"| {description.format(what=what)} | {real['rps']:,.0f} ({real['rps_min']:,.0f}–{real['rps_max']:,.0f}) "
            f"| {real['p99_ms']:.2f} ms | {bare['rps']:,.0f} ({bare['rps_min']:,.0f}–{bare['rps_max']:,.0f}) "
            f"| {bare['p99_ms']:.2f} ms | {ratio['median']:.1%} ({ratio['min']:.0%}–{ratio['max']:.0%}) |")
    header_real = {v: json.loads((capture / f"{v}.json").read_text())["header_bytes"] for v in ("raw", "gzip", "304")}
    header_bare = json.loads((capture / "bare_header_bytes.json").read_text())
    rows.append("")
    rows.append("Response header bytes as received (status line and headers, gunicorn's own included), "
                "real / bare: " + ", ".join(
                    f"{v} {header_real[v]} / {header_bare[v]}" for v in ("raw", "gzip", "304")) + ".")
    return rows


def _ratio_rows(subject, ratio_raw, ratio_304, ratio_gzip_size, gzip_size, raw_size):
    """The ratios table: the timetable's three targets (issue 2), or the feed's one (issue 9) and two figures."""
    gzip_row = f"| gzip body / raw body | {ratio_gzip_size:.1%} ({gzip_size:,} / {raw_size:,} bytes) "
    if subject == "feed":
        return [
            f"| feed throughput, real / bare | {ratio_raw:.1%} | ≥ {TARGET_FEED_RAW_RATIO:.0%} "
            f"| {_verdict(ratio_raw, TARGET_FEED_RAW_RATIO, True)} |",
            f"| 304 revalidation throughput, real / bare | {ratio_304:.1%} | — | |",
            gzip_row + "| — | |",
        ]
    return [
        f"| full timetable throughput, real / bare | {ratio_raw:.1%} | ≥ {TARGET_RAW_RATIO:.0%} "
        f"| {_verdict(ratio_raw, TARGET_RAW_RATIO, True)} |",
        f"| 304 revalidation throughput, real / bare | {ratio_304:.1%} | ≥ {TARGET_304_RATIO:.0%} "
        f"| {_verdict(ratio_304, TARGET_304_RATIO, True)} |",
        gzip_row + f"| ≤ {TARGET_GZIP_SIZE_RATIO:.0%} | {_verdict(ratio_gzip_size, TARGET_GZIP_SIZE_RATIO, False)} |",
    ]


def cmd_report(args):
    results = json.loads(Path(args.results).read_text(encoding="utf-8"))
    capture = Path(args.capture_dir)
    table = _medians(results["runs"])
    raw_size = (capture / "raw.body").stat().st_size
    gzip_size = (capture / "gzip.body").stat().st_size
    ratio_raw = table["raw", "ratio"]["median"]
    ratio_304 = table["304", "ratio"]["median"]
    ratio_gzip_size = gzip_size / raw_size
    machine = _machine()
    p = results["parameters"]
    errors = sum(row.get("errors", 0) for row in table.values())
    subject = SUBJECTS[args.subject]
    lines = [
        f"Run finished {results['finished_at']} on commit {machine['commit']}. Generated by `make bench` "
        "(`bench/run.sh`); do not edit between the markers.",
        "",
        "| ratio | measured | target | |",
        "| --- | ---: | ---: | --- |",
        *_ratio_rows(args.subject, ratio_raw, ratio_304, ratio_gzip_size, gzip_size, raw_size),
        "",
        f"{p['rounds']} round(s); in each, every request kind runs against the real app and right after against "
        "the bare app. Ratios are the median of the rounds' real/bare ratios; req/s and p99 are medians over the "
        "rounds (min–max in brackets).",
        "",
        *_figures_table(table, capture, subject["what"]),
        "",
        f"Socket and HTTP errors across all measured runs: {errors}.",
        "",
        f"- Machine: {machine['nproc']} CPUs (`nproc`), {machine['cpu']}, Linux {machine['kernel']}; "
        "shared with other work (load average before / after the measurements: "
        f"{results.get('loadavg', {}).get('before', '?')} / {results.get('loadavg', {}).get('after', '?')}), "
        "so absolute figures are noisy — compare the ratios, which come from the same run.",
        f"- Software: Python {machine['python']}, gunicorn {machine['gunicorn']}, {machine['wrk']}.",
        f"- Servers: `gunicorn -c gunicorn.conf.py wsgi:app` (the Procfile's `web`) and "
        f"`gunicorn -c gunicorn.conf.py bench.bare_wsgi:app`, both `WEB_CONCURRENCY={p['workers']}` sync workers "
        "bound to 127.0.0.1; the real app with `APP_ENV=production`, PostgreSQL, "
        f"Redis (DB {urlsplit(os.environ.get('REDIS_URL', '')).path.strip('/') or '0'}), {subject['data']}.",
        f"- Load: wrk, {p['threads']} threads, {p['connections']} connections, {p['duration']} per run after a "
        f"{p['warmup']} warm-up of the same request; runs are sequential (one server loaded at a time), "
        "real and bare interleaved per request kind, on the same machine as the servers:",
        "",
        "```sh",
        *results["commands"].values(),
        "```",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[3:8]))


def cmd_splice(args):
    """Replace what is between the step's markers in DOC (or append a new marked block)."""
    doc = Path(args.doc)
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    body = Path(args.file).read_text(encoding="utf-8").rstrip("\n")
    begin, end = f"<!-- {args.name}:begin -->", f"<!-- {args.name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {args.title or args.name}\n\n{block}\n"
    doc.write_text(text, encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port").set_defaults(func=cmd_free_port)
    for name, func in (("db-create", cmd_db_create), ("db-drop", cmd_db_drop)):
        command = sub.add_parser(name)
        command.add_argument("server_url")
        command.add_argument("name")
        command.set_defaults(func=func)
    command = sub.add_parser("redis-flush")
    command.add_argument("url")
    command.set_defaults(func=cmd_redis_flush)
    command = sub.add_parser("wait-http")
    command.add_argument("url")
    command.add_argument("pid", type=int)
    command.add_argument("seconds", type=float)
    command.set_defaults(func=cmd_wait_http)
    for name, func in (("capture", cmd_capture), ("verify", cmd_verify)):
        command = sub.add_parser(name)
        command.add_argument("base_url")
        command.add_argument("path")
        command.add_argument("dir")
        command.add_argument("--header", action="append", help='"Name: value" sent with every request')
        command.set_defaults(func=func)
    command = sub.add_parser("measure")
    for option in ("--real", "--bare", "--etag", "--out"):
        command.add_argument(option, required=True)
    command.add_argument("--threads", type=int, default=2)
    command.add_argument("--connections", type=int, default=32)
    command.add_argument("--duration", default="10s")
    command.add_argument("--warmup", default="2s")
    command.add_argument("--rounds", type=int, default=3)
    command.add_argument("--workers", type=int, default=2)
    command.add_argument("--header", action="append", help='"Name: value" sent with every request')
    command.set_defaults(func=cmd_measure)
    command = sub.add_parser("report")
    command.add_argument("results")
    command.add_argument("capture_dir")
    command.add_argument("out")
    command.add_argument("--subject", choices=sorted(SUBJECTS), default="timetable")
    command.set_defaults(func=cmd_report)
    command = sub.add_parser("splice")
    command.add_argument("doc")
    command.add_argument("name")
    command.add_argument("file")
    command.add_argument("--title")
    command.set_defaults(func=cmd_splice)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
