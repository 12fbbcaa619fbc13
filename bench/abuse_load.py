"""Load test for issue #23: never-connected sessions and many clients against the session bounds.

Starts the real app (``python app.py``, random weights, loopback only) with a stated session
memory budget, then at the same time:

* an innocent ``gradio_client`` session clicks on its picture over and over (its click latency,
  median and worst, is what a user would feel);
* ``--clients`` concurrent ``gradio_client`` clients (each its own address, sent as
  ``X-Forwarded-For`` with ``SAM2_TRUST_PROXY=1``) load a picture and click on it a few times;
* ``--raw`` never-connected sessions (raw HTTP, a fresh ``session_hash`` each, no heartbeat,
  all from one address) each load a large picture and click once.

It samples the server's resident memory every 0.2 s and reports its peak above the level after
start-up against the stated bound: the session budget (data sessions keep) plus, for each event
the app runs at once (``--concurrency`` picture loads and as many prompts), one event's working memory (measured first: a fresh
picture loaded and clicked); and the level once every client has closed. It also reports what
the raw requests were told (loaded / "the server is busy" / their session was dropped to make
room) and whether every connected client kept its picture and objects (nothing lost within
bounds).

    python -m bench.abuse_load [--raw 24] [--clients 12] [--budget-mb 512] [--side 3000]

Bounded: ``--raw`` <= 200, ``--clients`` <= 32, the whole run stops after ``--timeout`` s.
The numbers depend on the machine and its load; on a shared machine compare runs made together.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

SHAPES = str(ROOT / "examples" / "shapes.png")


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (Linux /proc)."""
    total = 0
    pids = [pid]
    try:
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            pids.append(int(name))
                except (OSError, ValueError, IndexError):
                    pass
        for p in pids:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.2)


def big_picture(side: int, folder: str) -> str:
    """A ``side`` x ``side * 3/4`` JPEG with some structure (what a phone photo costs)."""
    import numpy as np
    from PIL import Image

    h, w = side * 3 // 4, side
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx // 97 + yy // 89) % 2) * 200], -1).astype(np.uint8)
    path = os.path.join(folder, f"big_{w}x{h}.jpg")
    Image.fromarray(img).save(path, quality=85)
    return path


class Raw:
    """One never-connected session over raw HTTP."""

    def __init__(self, url: str, address: str) -> None:
        import httpx

        self.url, self.hash = url.rstrip("/"), uuid.uuid4().hex[:16]
        self.http = httpx.Client(timeout=120, headers={"x-forwarded-for": address})

    def upload(self, path: str) -> Dict[str, object]:
        with open(path, "rb") as f:
            r = self.http.post(f"{self.url}/gradio_api/upload", files={"files": (os.path.basename(path), f)})
        r.raise_for_status()
        return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, api: str, data: list) -> str:
        r = self.http.post(f"{self.url}/gradio_api/call/{api}", json={"data": data, "session_hash": self.hash})
        if r.status_code != 200:
            return f"HTTP {r.status_code}"
        text = self.http.get(f"{self.url}/gradio_api/call/{api}/{r.json()['event_id']}").text
        last = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")][-1]
        payload = json.loads(last)
        return payload[-1] if isinstance(payload, list) else str(payload)


def status_of(result) -> str:
    return result[-1] if isinstance(result, (list, tuple)) else str(result)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=int, default=24, help="never-connected sessions (raw HTTP), at most 200")
    ap.add_argument("--clients", type=int, default=12, help="concurrent gradio_client clients, at most 32")
    ap.add_argument("--budget-mb", type=float, default=512, help="SAM2_SESSION_MEMORY_MB for the app")
    ap.add_argument("--max-sessions", type=int, default=24)
    ap.add_argument("--per-client", type=int, default=4)
    ap.add_argument("--side", type=int, default=3000, help="width of the raw sessions' picture")
    ap.add_argument("--clicks", type=int, default=2, help="clicks per client")
    ap.add_argument("--concurrency", type=int, default=4, help="the app's --concurrency (events at once)")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args(argv)
    args.raw, args.clients = max(0, min(args.raw, 200)), max(0, min(args.clients, 32))

    from gradio_client import Client, handle_file

    from tests.support.hub_cache import AppProcess, hf_cache_env

    tmp = tempfile.mkdtemp(prefix="abuse_load_")
    env = hf_cache_env(os.path.join(tmp, "hf"))
    env.update(SAM2_SESSION_MEMORY_MB=str(args.budget_mb), SAM2_MAX_SESSIONS=str(args.max_sessions),
               SAM2_MAX_SESSIONS_PER_CLIENT=str(args.per_client), SAM2_TRUST_PROXY="1",
               SAM2_UNCONNECTED_IDLE_S="60", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    picture = big_picture(args.side, tmp)
    deadline = time.monotonic() + args.timeout
    with AppProcess(["--device", "cpu", "--no-video", "--concurrency", str(args.concurrency)], env) as app:
        innocent = Client(app.url, verbose=False, headers={"x-forwarded-for": "10.0.9.9"})
        innocent.predict(handle_file(SHAPES), api_name="/load_image")
        innocent.predict(500, 400, True, api_name="/add_point")  # the model is loaded and warm
        # one event's working memory (an encode and a decode on a fresh picture), for the bound
        probe = Sampler(app.proc.pid)
        before = rss_bytes(app.proc.pid)
        probe.start()
        warm = Client(app.url, verbose=False, headers={"x-forwarded-for": "10.0.9.8"})
        warm.predict(handle_file(picture), api_name="/load_image")
        warm.predict(100, 100, True, api_name="/add_point")
        probe.stop.set()
        probe.join()
        warm.close()
        event_bytes = max(0, probe.peak - before)
        time.sleep(2)
        base = rss_bytes(app.proc.pid)
        sampler = Sampler(app.proc.pid)
        sampler.start()
        stop = threading.Event()
        latencies: List[float] = []
        innocent_errors: List[str] = []

        def innocent_clicks() -> None:
            k = 0
            while not stop.is_set() and time.monotonic() < deadline:
                t0 = time.perf_counter()
                try:
                    status = status_of(innocent.predict(300 + 10 * (k % 20), 300, True, api_name="/add_point"))
                except Exception as exc:  # noqa: BLE001 - reported
                    innocent_errors.append(f"{type(exc).__name__}: {exc}"[:120])
                    continue
                latencies.append(time.perf_counter() - t0)
                if status.startswith("⚠️"):
                    innocent_errors.append(status)
                k += 1

        def client_run(i: int) -> Dict[str, object]:
            try:
                return _client_run(i)
            except Exception as exc:  # noqa: BLE001 - a transport failure is reported, not a lost session
                return {"ok": True, "transport_error": f"{type(exc).__name__}: {exc}"[:120], "statuses": []}

        def _client_run(i: int) -> Dict[str, object]:
            c = Client(app.url, verbose=False, headers={"x-forwarded-for": f"10.0.1.{i + 1}"})
            try:
                load = status_of(c.predict(handle_file(SHAPES), api_name="/load_image"))
                statuses = [load]
                for k in range(args.clicks):
                    if time.monotonic() > deadline:
                        break
                    statuses.append(status_of(c.predict(200 + 40 * k, 200 + 20 * i, True, api_name="/add_point")))
                    c.predict(api_name="/new_object")
                final = status_of(c.predict(600, 500, True, api_name="/add_point"))
                statuses.append(final)
                return {"ok": not any(s.startswith("⚠️") for s in statuses), "statuses": statuses}
            finally:
                c.close()

        def raw_run(i: int) -> str:
            if time.monotonic() > deadline:
                return "skipped (timeout)"
            raw = Raw(app.url, "10.0.0.66" if i % 2 == 0 else f"10.0.2.{i % 50}")
            try:
                status = raw.call("load_image", [raw.upload(picture)])
                if "busy" in status:
                    return "busy"
                status = raw.call("add_point", [args.side // 2, args.side // 3, True])
                return "busy" if "busy" in status else ("loaded" if not status.startswith("⚠️") else status[:80])
            except Exception as exc:  # noqa: BLE001 - reported
                return f"error {type(exc).__name__}"
            finally:
                raw.http.close()

        clicker = threading.Thread(target=innocent_clicks, daemon=True)
        clicker.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, args.clients)) as clients_pool, \
                ThreadPoolExecutor(max_workers=4) as raw_pool:
            client_jobs = [clients_pool.submit(client_run, i) for i in range(args.clients)]
            raw_jobs = [raw_pool.submit(raw_run, i) for i in range(args.raw)]
            clients = [j.result() for j in client_jobs]
            raws = [j.result() for j in raw_jobs]
        stop.set()
        clicker.join(60)
        wall = time.perf_counter() - t0
        final = status_of(innocent.predict(510, 410, True, api_name="/add_point"))
        innocent.close()
        sampler.stop.set()
        sampler.join()
        time.sleep(75)  # every client closed; never-connected sessions go after 60 s idle
        after = rss_bytes(app.proc.pid)
        log = app.log()

    budget = args.budget_mb * 2 ** 20
    counts: Dict[str, int] = {}
    for r in raws:
        counts[r] = counts.get(r, 0) + 1
    lost = [c["statuses"] for c in clients if not c["ok"]]
    transport = [c["transport_error"] for c in clients if c.get("transport_error")]
    print(f"abuse_load: {args.raw} raw never-connected sessions ({args.side}px pictures) + {args.clients} clients "
          f"+ 1 innocent clicker, {wall:.0f} s (shared machine: absolute times are noisy)")
    events = 2 * args.concurrency  # picture loads and prompts are two queues of --concurrency each
    bound = budget + events * event_bytes
    print(f"  session budget {args.budget_mb:.0f} MiB; one event's working memory {event_bytes / 2**20:.0f} MiB; "
          f"stated bound above start-up = budget + {events} events = {bound / 2**20:.0f} MiB")
    print(f"  server RSS after start-up {base / 2**20:.0f} MiB, peak {sampler.peak / 2**20:.0f} MiB: "
          f"+{(sampler.peak - base) / 2**20:.0f} MiB ({'within' if sampler.peak - base <= bound else 'ABOVE'} "
          f"the bound); 75 s after every client closed: +{(after - base) / 2**20:.0f} MiB")
    if latencies:
        print(f"  innocent clicks: {len(latencies)}, median {statistics.median(latencies):.2f} s, "
              f"worst {max(latencies):.2f} s; warnings: {len(innocent_errors)}; after the run: {final[:60]!r}")
    print(f"  raw sessions: {counts}")
    print(f"  clients that kept their picture and objects: {args.clients - len(lost)} of {args.clients}")
    for statuses in lost[:3]:
        print(f"    lost: {statuses}")
    if transport:
        print(f"  client calls that failed in transport (not a lost session): {len(transport)}: {transport[:2]}")
    print(f"  tracebacks in the server log: {log.count('Traceback')}")
    return 0 if not lost and not innocent_errors and sampler.peak - base <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
