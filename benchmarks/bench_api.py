"""Load test of ``s1stac serve``: concurrent clients polling a job's status and searching STAC.

A catalog of ``--items`` s1-ard items (two 64 x 64 float32 COGs each, spread over a lon/lat
grid and a year) is built in a temporary folder, a server is started on 127.0.0.1 (one
uvicorn process, access log off) and one batch job is run to completion.  Then ``--clients``
clients (threads spread over ``--procs`` processes, each with a keep-alive HTTP session) loop
for ``--seconds``, each request chosen in turn among:

* ``GET /openeo/1.2/jobs/{job_id}`` with the bearer token (job status polling);
* ``GET /stac/search?bbox=...&datetime=...&limit=10`` (a random box and month);
* ``POST /stac/search`` with the same kind of body.

Reported: requests/s, latency percentiles (ms) overall and per kind, and errors (any status
other than 200, or a failed connection).  Usage::

    python benchmarks/bench_api.py [--clients 50 --seconds 30 --items 500 --procs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import pathlib
import random
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np
import requests

USER, PASSWORD = "bench", "bench-password"
KINDS = ("job status", "search GET", "search POST")


def build_catalog(root: pathlib.Path, count: int) -> None:
    """``count`` s1-ard items of two 64 x 64 COGs, 40 per row of a 10 m UTM grid, over a year."""
    # imported here: the client processes only need requests
    import pystac
    import rasterio
    import rasterio.warp
    import shapely
    import shapely.geometry
    from affine import Affine

    from s1stac.api import add_user
    from s1stac.catalog import StaticCatalog
    from s1stac.stac_items import extension_urls

    rng = np.random.default_rng(0)
    catalog = StaticCatalog(root)
    start = dt.datetime(2021, 1, 1, 5, 0, tzinfo=dt.UTC)
    items = []
    for index in range(count):
        x, y = 400000.0 + 640.0 * (index % 40), 4600000.0 - 640.0 * (index // 40)
        transform = Affine(10.0, 0.0, x, 0.0, -10.0, y)
        lonlat = rasterio.warp.transform_bounds("EPSG:32633", "EPSG:4326", x, y - 640, x + 640, y)
        folder = root / "s1-ard" / f"ard-{index:05d}"
        folder.mkdir(parents=True)
        item = pystac.Item(
            id=folder.name,
            geometry=shapely.geometry.mapping(shapely.box(*lonlat)),
            bbox=list(lonlat),
            datetime=start + dt.timedelta(days=int(rng.integers(0, 365))),
            properties={
                "proj:code": "EPSG:32633",
                "proj:shape": [64, 64],
                "proj:transform": list(transform)[:6],
            },
        )
        for band in ("vv", "vh"):
            path = folder / f"{folder.name}_{band}.tif"
            with rasterio.open(
                path,
                "w",
                driver="COG",
                dtype="float32",
                count=1,
                height=64,
                width=64,
                crs="EPSG:32633",
                transform=transform,
                nodata=float("nan"),
            ) as dataset:
                dataset.write(rng.gamma(2.0, 0.05, (64, 64)).astype("float32"), 1)
            item.add_asset(
                band, pystac.Asset(str(path), media_type=pystac.MediaType.COG, roles=["data"])
            )
        item.stac_extensions = extension_urls(item.to_dict(include_self_link=False), "s1-ard")
        items.append(item)
    catalog.add_items("s1-ard", items, validate=False)
    add_user(root, USER, PASSWORD)


def start_server(root: pathlib.Path, port: int, log: pathlib.Path) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from s1stac.api import serve; "
        "serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]), access_log=False)"
    )
    with log.open("wb") as stream:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(root), str(port)], stdout=stream, stderr=stream
        )
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/.well-known/openeo", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def finished_job(url: str, headers: dict[str, str]) -> str:
    """Run a small batch job to completion; its id."""
    graph = {
        "load": {
            "process_id": "load_collection",
            "arguments": {
                "id": "s1-ard",
                "spatial_extent": {"west": 13.8, "south": 41.54, "east": 13.805, "north": 41.545},
                "temporal_extent": None,
            },
        },
        "save": {
            "process_id": "save_result",
            "arguments": {"data": {"from_node": "load"}, "format": "GTiff"},
            "result": True,
        },
    }
    response = requests.post(
        f"{url}/openeo/1.2/jobs",
        json={"process": {"process_graph": graph}},
        headers=headers,
        timeout=60,
    )
    response.raise_for_status()
    job_id = response.headers["OpenEO-Identifier"]
    requests.post(f"{url}/openeo/1.2/jobs/{job_id}/results", headers=headers, timeout=60)
    for _ in range(600):
        status = requests.get(
            f"{url}/openeo/1.2/jobs/{job_id}", headers=headers, timeout=10
        ).json()["status"]
        if status not in ("queued", "running"):
            if status != "finished":
                logs = requests.get(
                    f"{url}/openeo/1.2/jobs/{job_id}/logs?level=error", headers=headers, timeout=10
                ).json()["logs"]
                raise RuntimeError(f"benchmark job ended {status}: {logs}")
            return job_id
        time.sleep(0.2)
    raise RuntimeError("benchmark job did not finish")


def client_loop(
    url: str,
    headers: dict[str, str],
    job_id: str,
    window: tuple[float, float],
    seed: int,
    results: list[tuple[str, float, bool]],
) -> None:
    random_ = random.Random(seed)
    session = requests.Session()
    turn = seed
    start, deadline = window
    time.sleep(max(0.0, start - time.time()))
    while time.time() < deadline:
        kind = KINDS[turn % len(KINDS)]
        turn += 1
        lon, lat = random_.uniform(13.8, 14.1), random_.uniform(41.3, 41.55)
        bbox = [lon, lat, lon + 0.02, lat + 0.02]
        month = random_.randint(1, 11)
        interval = f"2021-{month:02d}-01T00:00:00Z/2021-{month + 1:02d}-01T00:00:00Z"
        began = time.perf_counter()
        try:
            if kind == "job status":
                response = session.get(
                    f"{url}/openeo/1.2/jobs/{job_id}", headers=headers, timeout=30
                )
                ok = response.status_code == 200 and response.json()["status"] == "finished"
            elif kind == "search GET":
                response = session.get(
                    f"{url}/stac/search",
                    timeout=30,
                    params={
                        "bbox": ",".join(f"{v:.4f}" for v in bbox),
                        "datetime": interval,
                        "limit": 10,
                    },
                )
                ok = response.status_code == 200 and "features" in response.json()
            else:
                response = session.post(
                    f"{url}/stac/search",
                    timeout=30,
                    json={
                        "bbox": bbox,
                        "datetime": interval,
                        "limit": 10,
                        "collections": ["s1-ard"],
                    },
                )
                ok = response.status_code == 200 and "features" in response.json()
        except requests.RequestException:
            ok = False
        results.append((kind, time.perf_counter() - began, ok))


Task = tuple[str, dict[str, str], str, tuple[float, float], int, int]


def worker(task: Task) -> list[tuple[str, float, bool]]:
    """Run ``threads`` clients between two wall-clock times (shared by all processes)."""
    url, headers, job_id, window, threads, first_seed = task
    results: list[tuple[str, float, bool]] = []
    pool = [
        threading.Thread(
            target=client_loop, args=(url, headers, job_id, window, first_seed + i, results)
        )
        for i in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


def summary(latencies: list[float]) -> dict[str, float]:
    values = np.asarray(latencies) * 1000.0
    return {
        "requests": int(values.size),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--procs", type=int, default=5, help="client processes")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder) / "catalog"
        began = time.perf_counter()
        build_catalog(root, args.items)
        print(f"catalog of {args.items} items built in {time.perf_counter() - began:.1f} s")
        server = start_server(root, args.port, pathlib.Path(folder) / "server.log")
        try:
            url = f"http://127.0.0.1:{args.port}"
            token = requests.get(
                f"{url}/openeo/1.2/credentials/basic", auth=(USER, PASSWORD), timeout=30
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer basic//{token}"}
            job_id = finished_job(url, headers)
            per_proc = [
                args.clients // args.procs + (i < args.clients % args.procs)
                for i in range(args.procs)
            ]
            start = time.time() + 5.0  # time for the client processes to start
            window = (start, start + args.seconds)
            tasks: list[Task] = [
                (url, headers, job_id, window, n, 1000 * i) for i, n in enumerate(per_proc) if n
            ]
            with multiprocessing.get_context("spawn").Pool(len(tasks)) as pool:
                chunks = pool.map(worker, tasks)
        finally:
            server.terminate()
            server.wait(30)
    results = [r for chunk in chunks for r in chunk]
    errors = sum(1 for _, _, ok in results if not ok)
    report: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "items": args.items,
        "requests_per_s": round(len(results) / args.seconds, 1),
        "errors": errors,
        "all": summary([latency for _, latency, _ in results]),
    }
    for kind in KINDS:
        report[kind] = summary([latency for k, latency, _ in results if k == kind])
    print(json.dumps(report, indent=2))
    if errors:
        raise SystemExit(f"{errors} request(s) failed")


if __name__ == "__main__":
    main()
