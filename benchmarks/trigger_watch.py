"""One triggerer-style event loop watching N AutoML jobs through AutoMLJobTrigger.

Prints: SageMaker API calls per minute while all N jobs are watched, the loop process's RSS
(before, peak, per watched job), and the delay from each job's completion to its trigger event.

The jobs are served by a loopback responder in a separate process that speaks SageMaker's AWS
JSON 1.1 protocol (DescribeAutoMLJob/V2): job i reports InProgress until its scheduled completion
time, then Completed with a best candidate. Training 500 real jobs on the local service would
measure the trainer, not the watcher. The triggers, hooks, aiobotocore clients and retries are
the real ones, configured through an Airflow AWS connection with ``endpoint_url``.

    python benchmarks/trigger_watch.py --jobs 500 --poll-interval 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import time
import urllib.request


def _responder(port_queue: multiprocessing.Queue, finish_at: dict[str, float]) -> None:
    """The SageMaker stand-in: answers Describe calls from the schedule, counts calls per second."""
    from aiohttp import web

    calls_per_second: dict[int, int] = {}
    first_call: dict[str, float] = {}

    async def handle(request: web.Request) -> web.Response:
        now = time.time()
        calls_per_second[int(now)] = calls_per_second.get(int(now), 0) + 1
        operation = request.headers.get("X-Amz-Target", "").split(".")[-1]
        body = await request.json()
        name = body.get("AutoMLJobName", "")
        first_call.setdefault(name, now)
        if operation not in ("DescribeAutoMLJob", "DescribeAutoMLJobV2") or name not in finish_at:
            return web.json_response({"__type": "ResourceNotFound", "message": f"{operation} {name}"}, status=400)
        done = now >= finish_at[name]
        answer = {
            "AutoMLJobName": name,
            "AutoMLJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:automl-job/{name}",
            "AutoMLJobStatus": "Completed" if done else "InProgress",
            "AutoMLJobSecondaryStatus": "Completed" if done else "TrainingModels",
            "CreationTime": finish_at[name] - 3600,
            "LastModifiedTime": min(now, finish_at[name]),
            "RoleArn": "arn:aws:iam::123456789012:role/automl",
            "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
            "AutoMLJobInputDataConfig": [],
            "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "y"}},
        }
        if done:
            answer["EndTime"] = finish_at[name]
            answer["BestCandidate"] = {
                "CandidateName": f"{name}-best",
                "FinalAutoMLJobObjectiveMetric": {"Type": "Maximize", "MetricName": "F1", "Value": 0.9},
                "ObjectiveStatus": "Succeeded",
                "CandidateSteps": [],
                "CandidateStatus": "Completed",
                "CreationTime": finish_at[name] - 60,
                "LastModifiedTime": finish_at[name],
            }
        return web.Response(text=json.dumps(answer), content_type="application/x-amz-json-1.1")

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "calls_per_second": {str(second): count for second, count in calls_per_second.items()},
                "last_first_call": max(first_call.values(), default=0.0),
            }
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/", handle)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS missing from /proc/self/status")


async def watch(jobs: int, poll_interval: float, finish_at: dict[str, float], first_finish: float) -> dict:
    from airflow_automl.triggers.automl import AutoMLJobTrigger

    received: dict[str, float] = {}
    statuses: dict[str, str] = {}
    peak = rss_mb()

    async def one(name: str) -> None:
        trigger = AutoMLJobTrigger(job_name=name, aws_conn_id="automl_bench", poll_interval=poll_interval)
        async for event in trigger.run():
            received[name] = time.time()
            statuses[name] = event.payload["status"]

    async def sample_rss() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_rss())
    # Triggers arrive in the triggerer spread over a poll interval, as deferring tasks do.
    tasks = []
    for name in finish_at:
        tasks.append(asyncio.create_task(one(name)))
        await asyncio.sleep(poll_interval / jobs)
    rss_all_watching = None
    while len(received) < jobs:
        await asyncio.sleep(1)
        if rss_all_watching is None and time.time() >= first_finish - 1:
            rss_all_watching = rss_mb()
    await asyncio.gather(*tasks)
    sampler.cancel()
    return {"received": received, "statuses": statuses, "peak_rss": peak, "rss_all_watching": rss_all_watching}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--poll-interval", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the first job completes")
    parser.add_argument("--finish-window", type=float, default=60.0, help="completions spread over this many seconds")
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    # Imports first, so the baseline holds Airflow and botocore but no watched job.
    import airflow_automl.triggers.automl  # noqa: F401

    context = multiprocessing.get_context("spawn")
    port_queue: multiprocessing.Queue = context.Queue()
    rng = random.Random(7)
    offsets = [rng.uniform(0, args.finish_window) for _ in range(args.jobs)]
    start = time.time() + 5  # the responder process needs a few seconds to start
    first_finish = start + args.warmup
    finish_at = {f"bench-{i:05d}": first_finish + offset for i, offset in enumerate(offsets)}
    responder = context.Process(target=_responder, args=(port_queue, finish_at), daemon=True)
    responder.start()
    endpoint = f"http://127.0.0.1:{port_queue.get(timeout=60)}"
    os.environ["AIRFLOW_CONN_AUTOML_BENCH"] = json.dumps(
        {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
    )
    from airflow_automl.hooks.automl import AutoMLHook

    AutoMLHook(aws_conn_id="automl_bench").conn_config  # noqa: B018 (warms the connection lookup)
    rss_before = rss_mb()
    start = max(start, time.time())

    result = asyncio.run(watch(args.jobs, args.poll_interval, finish_at, first_finish))
    with urllib.request.urlopen(f"{endpoint}/stats", timeout=10) as answer:
        stats = json.load(answer)
    per_second = {int(second): count for second, count in stats["calls_per_second"].items()}
    responder.terminate()

    # Steady state: from one interval after the last trigger's first call until the first job finishes.
    all_polling = stats["last_first_call"]
    steady_from, steady_to = int(all_polling + args.poll_interval) + 1, int(first_finish) - 1
    if steady_to - steady_from < args.poll_interval:
        print(f"warning: steady window only {steady_to - steady_from} s; raise --warmup")
    steady_seconds = max(1, steady_to - steady_from)
    steady_calls = sum(count for second, count in per_second.items() if steady_from <= second < steady_to)
    delays = sorted(result["received"][name] - finish_at[name] for name in finish_at)
    rss_watching = result["rss_all_watching"] or result["peak_rss"]

    print(f"AutoMLJobTrigger watch: {args.jobs} jobs, poll_interval {args.poll_interval:g} s, one event loop")
    print(
        f"  events: {len(result['received'])} ({', '.join(sorted(set(result['statuses'].values())))}), "
        f"exactly one per job: {len(result['received']) == args.jobs}"
    )
    print(f"  all {args.jobs} triggers polling {all_polling - start:.1f} s after the first started")
    print(
        f"  API calls/min, all jobs watched: {steady_calls / steady_seconds * 60:,.0f} "
        f"(one Describe per job per interval would be {args.jobs * 60 / args.poll_interval:,.0f}); "
        f"total calls {sum(per_second.values()):,}"
    )
    print(
        f"  RSS: before {rss_before:.0f} MB, all watching {rss_watching:.0f} MB, peak {result['peak_rss']:.0f} MB; "
        f"per watched job {(rss_watching - rss_before) * 1024 / args.jobs:,.0f} KB"
    )
    print(
        f"  completion -> event delay: p50 {statistics.median(delays):.2f} s, "
        f"p95 {delays[int(len(delays) * 0.95) - 1]:.2f} s, max {delays[-1]:.2f} s "
        f"(bound: one poll interval = {args.poll_interval:g} s)"
    )
    print(
        f"  wall time {time.time() - start:.0f} s; "
        f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
