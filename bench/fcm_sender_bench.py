"""Push sender cost: firebase-admin's public ``messaging.send_each`` against the app's REST sender.

    .venv/bin/python bench/fcm_sender_bench.py [--messages 10000] [--output FILE]

Each sender sends the same messages (two contents, a distinct token each, in calls of 500) to the local FCM stub
(tests/stubs/fcm.py) over TLS. firebase-admin's endpoint is fixed (``https://fcm.googleapis.com``), so every sender
goes through the stub's TLS-intercepting CONNECT proxy (``HTTPS_PROXY``, a throw-away CA trusted through
``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``): the same TLS path for both senders. The stub and the proxy run in a child
process, so the CPU figures are the sending process's own. The OAuth token comes from the stub too.
(``messaging.send_each_async`` is not measured: its httpx client mounts transports of its own, which ignore
``HTTPS_PROXY``, so it cannot be pointed anywhere but Google.)

This decides which sender the app uses (docs/benchmarks.md, "Push sender"): a fan-out is CPU-bound on one worker,
and the target is 10,000 devices in at most 10 s including the database work.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 500
CONCURRENCY = 100  # the app's default PUSH_CONCURRENCY (config.py)


def stub_main():
    """Child process: the FCM stub and its TLS proxy; prints their addresses, serves until stdin closes."""
    from tests.stubs.fcm import FcmStub, TlsInterceptingProxy

    stub = FcmStub(record_bodies=False).start()
    proxy = TlsInterceptingProxy(stub, Path(tempfile.mkdtemp(prefix="fcm-tls-"))).start()
    print(json.dumps({"proxy": proxy.url, "ca": proxy.ca_path}), flush=True)
    sys.stdin.read()
    print(json.dumps({"sent": stub.sent, "received": stub.received, "token_requests": stub.token_requests}),
          flush=True)


def _contents():
    from raf_network.notifications.push import PushContent

    return [PushContent(title=f"Izmena u rasporedu {n}", body="Uvod u programiranje, predavanja: Kolarac2 → Raf06",
                        data={"type": "timetable_change", "notification_id": "1"}, locale="sr-Latn",
                        category="timetable_change", collapse_id="raf-notification-1") for n in range(2)]


def _firebase_messages(total):
    from firebase_admin import messaging

    messages = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Message(token=…): a registration token is a token
        for number, content in zip(range(total), _contents() * total, strict=False):
            messages.append(messaging.Message(
                token=f"tok-{number}", data=content.data,
                notification=messaging.Notification(title=content.title, body=content.body),
                android=messaging.AndroidConfig(priority="high", collapse_key=content.collapse_id,
                                                notification=messaging.AndroidNotification(
                                                    channel_id="raf_notifications", sound="default",
                                                    tag=content.category)),
                apns=messaging.APNSConfig(headers={"apns-priority": "10", "apns-collapse-id": content.collapse_id},
                                          payload=messaging.APNSPayload(aps=messaging.Aps(
                                              alert=messaging.ApsAlert(title=content.title, body=content.body),
                                              sound="default", thread_id=content.category)))))
    return messages


def _measure(name, send, batches):
    started, cpu = time.perf_counter(), time.process_time()
    sent = sum(send(batch) for batch in batches)
    return {"sender": name, "messages": sum(len(batch) for batch in batches), "sent": sent,
            "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def run(total, service_account_path):
    import firebase_admin
    from firebase_admin import credentials, messaging

    from raf_network.notifications.push import SENT, FcmSender, PushItem

    results = []
    app = firebase_admin.initialize_app(credentials.Certificate(str(service_account_path)), name="bench")
    messages = _firebase_messages(total)
    batches = [messages[start:start + BATCH] for start in range(0, total, BATCH)]
    messaging.send_each(batches[0][:1], app=app)  # warm up: the access token, the first connection
    results.append(_measure("firebase-admin `messaging.send_each` (requests, a thread per message)",
                            lambda batch: messaging.send_each(batch, app=app).success_count, batches))

    config = {"FIREBASE_CREDENTIALS": str(service_account_path), "FIREBASE_PROJECT_ID": None, "FCM_URL": None,
              "PUSH_HTTP_TIMEOUT": 10.0, "PUSH_CONCURRENCY": CONCURRENCY,
              "PUSH_ANDROID_CHANNEL": "raf_notifications"}
    sender = FcmSender(config, name="bench")
    contents = _contents()
    items = [PushItem(token=f"tok-{number}", content=contents[number % 2]) for number in range(total)]
    item_batches = [items[start:start + BATCH] for start in range(0, total, BATCH)]
    sender.send(item_batches[0][:1])
    results.append(_measure(f"this app's REST sender (`notifications/push.py`: http.client, {CONCURRENCY} threads)",
                            lambda batch: sum(result.outcome == SENT for result in sender.send(batch)),
                            item_batches))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--output", help="also write the Markdown report to this file")
    parser.add_argument("--stub", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stub:
        stub_main()
        return

    from tests.stubs.fcm import service_account

    child = subprocess.Popen([sys.executable, __file__, "--stub"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=ROOT)
    try:
        addresses = json.loads(child.stdout.readline())
        os.environ.update({"HTTPS_PROXY": addresses["proxy"], "REQUESTS_CA_BUNDLE": addresses["ca"],
                           "SSL_CERT_FILE": addresses["ca"], "NO_PROXY": ""})
        workdir = Path(tempfile.mkdtemp(prefix="fcm-bench-"))
        path = service_account(workdir, token_uri="https://oauth2.googleapis.com/token")
        results = run(args.messages, path)
    finally:
        child.stdin.close()
        stub_counts = json.loads(child.stdout.readline() or "{}")
        child.wait(10)

    lines = [f"\nPush sender: {args.messages:,} messages in calls of {BATCH}, over TLS to the local FCM stub (in "
             f"another process, through its CONNECT proxy), {os.cpu_count()} CPUs. Stub: {stub_counts}.\n",
             "| sender | messages sent | wall time | messages/s | sender CPU | CPU per message |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for result in results:
        lines.append(f"| {result['sender']} | {result['sent']:,} / {result['messages']:,} | {result['seconds']:.2f} s "
                     f"| {result['messages'] / result['seconds']:,.0f} | {result['cpu']:.2f} s "
                     f"| {1000 * result['cpu'] / result['messages']:.2f} ms |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
