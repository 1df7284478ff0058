# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded HTTP load against one URL, counting failed requests and the app versions answered, in order.

N client threads send GET requests for at most --max-seconds (or until --stop-file exists). Each request uses
its own connection (Connection: close): an idle keep-alive connection closed by an nginx reload is something
clients retry, so counting it would measure the client, not the swap. A failure is any answer other than 2xx
and any connection error or timeout; nothing is retried. With --slow N one extra request to /slow?s=N is sent
at the start: it must come back 200 even though the swap happens while it is in flight.
Standard library only; prints (and with --out writes) a JSON summary.
"""
import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse


def one_request(host, port, path, timeout):
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace").strip()
        return started, response.status, body, None
    except (OSError, http.client.HTTPException) as error:
        return started, None, None, f"{type(error).__name__}: {error}"
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--slow", type=float, default=0, help="send one /slow?s=N request at the start")
    parser.add_argument("--out")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    host, port, path = url.hostname, url.port or 80, url.path or "/"
    begin = time.monotonic()
    deadline = begin + min(args.max_seconds, 600)  # bounded whatever the caller asks
    results, slow, lock = [], {}, threading.Lock()

    def client():
        while time.monotonic() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
            outcome = one_request(host, port, path, args.timeout)
            with lock:
                results.append(outcome)

    def slow_client():
        started, status, body, error = one_request(host, port, f"/slow?s={args.slow:g}", args.timeout + args.slow)
        slow.update(status=status, body=body, error=error, seconds=round(time.monotonic() - started, 2))

    threads = [threading.Thread(target=client) for _client in range(args.clients)]
    if args.slow:
        threads.append(threading.Thread(target=slow_client))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    results.sort(key=lambda item: item[0])
    failures = [item for item in results if item[3] or not 200 <= item[1] < 300]
    runs, first_start, last_start = [], {}, {}
    for started, status, body, error in results:
        if error or not 200 <= status < 300:
            continue
        first_start.setdefault(body, started)
        last_start[body] = started
        if runs and runs[-1][0] == body:
            runs[-1][1] += 1
        else:
            runs.append([body, 1])
    summary = {
        "requests": len(results),
        "failed": len(failures),
        "seconds": round(time.monotonic() - begin, 2),
        "versions": [run[0] for run in runs],
        "runs": runs,
        "failure_samples": sorted({item[3] or f"HTTP {item[1]}" for item in failures})[:5],
        "failure_window_seconds": round(failures[-1][0] - failures[0][0], 2) if failures else 0,
        "slow": slow or None,
        # Between the first request answered by the last version and the last one answered by the one before:
        # nginx's old workers keep accepting until they have seen the reload.
        "mixed_seconds": round(max(0.0, last_start[runs[-2][0]] - first_start[runs[-1][0]]), 2) if len(runs) > 1 else 0,
    }
    text = json.dumps(summary)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
