"""Triggerer at scale: one event loop waiting on N AutoML jobs, shared poller against one Describe per job.

Starts the local service (its jobs queue forever behind one idle job, so none trains), creates the
jobs through the real API, then for each configuration runs a fresh Python process that plays the
triggerer: N AutoMLJobTriggers in one event loop, all jobs InProgress. Over a window of a few poll
intervals it ends some jobs (StopAutoMLJob, the API's immediate way to a terminal status) at random
moments and records:

- API calls per minute made by the triggers during the window (counted at aiobotocore's call entry);
- RSS per watched job: (process RSS at the end of the window - RSS before any trigger) / N;
- delay from a job's end to its trigger's event (max and median), and that each ended job fired
  exactly once and no other job fired.

Windows start once the jobs' creation is older than the shared poller's overlap window: right after
a burst of N creations, each look also pages through those N recently modified jobs (N / 100 calls)
for about a minute. Registration (each trigger's first look at its job: N describes either way) is
reported on its own line.

"per-job" is the usual design (the Amazon provider's SageMaker triggers): one client and one Describe
per job per interval, reproduced here with the trigger's previous loop, because the Amazon provider's
SageMakerTrigger has no AutoML job type to run against the same endpoint. "shared" is
AutoMLJobTrigger as shipped. Per-job is run up to --per-job-max: each job holds its own client (about
1.8 MB and its own parse of the SageMaker model), so N = 2,000 takes minutes to start and ~3.5 GB.
"design" is what per-job asks for, N x 60 / interval calls a minute; on a busy machine the measured
per-job rate falls short of it because the client cannot keep up, which shows in its delays.

--burst N is the other measurement: N jobs arriving at once (a DAG of mapped training tasks, a
triggerer restart), all N triggers registering at once, and the shared poller's calls counted from
that instant for --burst-minutes (longer if registering them all takes more than 3 minutes less), a
minute at a time and by kind (List, each job's first Describe, which registers its trigger, the
sweep's, and those that deliver an end): the first 2 minutes with and without the N registration
describes (one per new trigger, in any design) against the steady state (the last 2 minutes, after
all registered); the steady rate against one Describe per job per interval; RSS per watched job once
all are registered; the delay from each of --completions job ends (spread over the run) to its
event; and events that should not be (a job that did not end, or a second event). The local
service cannot create 10,000 jobs in an instant (about 70 a second here), so this run talks to
benchmarks/sagemaker_stand_in.py: real HTTP on loopback, the same protocol, jobs in memory.

Usage: .venv/bin/python benchmarks/trigger_scale.py [--sizes 100 500 2000] [--interval 10] [--intervals 2]
       nice -n 10 .venv/bin/python benchmarks/trigger_scale.py --burst 10000 --interval 10 [--burst-minutes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import REPO_ROOT, LocalService

CONN_ID = "automl_bench"
ROLE = "arn:aws:iam::123456789012:role/automl"


def idle_engine(spec, ctx):
    """The service's engine for this benchmark: the one job that runs just waits to be stopped."""
    from airflow_automl.local.engine import JobOutcome

    ctx.set_secondary_status("TrainingModels")
    while not ctx.should_stop():
        time.sleep(0.5)
    return JobOutcome("Stopped")


# -- the service and its jobs ----------------------------------------------------------------------


def start_service(work: Path, max_active: int) -> LocalService:
    """The local service with the idle engine: one job runs (and waits), the others queue behind it."""
    service = LocalService(
        work / "data",
        work / "files",
        log_path=work / "service.log",
        engine="benchmarks.trigger_scale:idle_engine",
        log_level="warning",
        max_concurrent_jobs=1,
        max_active_jobs=max_active,
    )
    service.start()
    return service


def sagemaker_client(endpoint: str):
    import boto3
    import botocore.config

    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def create_jobs(endpoint: str, work: Path, names: list[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data_uri = (work / "files" / "train.csv").as_uri()
    output_uri = (work / "files" / "output").as_uri()

    def create(batch: list[str]) -> None:
        client = sagemaker_client(endpoint)
        for name in batch:
            client.create_auto_ml_job_v2(
                AutoMLJobName=name,
                RoleArn=ROLE,
                AutoMLJobInputDataConfig=[
                    {
                        "ChannelType": "training",
                        "ContentType": "text/csv;header=present",
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_uri}},
                    }
                ],
                OutputDataConfig={"S3OutputPath": output_uri},
                AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
            )

    batches = [names[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, batches))


# -- one configuration, in its own process ---------------------------------------------------------


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmRSS line")


def run_configuration(args: argparse.Namespace) -> dict:
    """The triggerer side: N triggers in one loop; ends some jobs from a thread; returns the figures."""
    import asyncio
    import gc
    import random
    import threading
    from collections import Counter

    from aiobotocore.client import AioBaseClient

    from airflow_automl.hooks.automl import AutoMLApiError
    from airflow_automl.triggers import poller as poller_module
    from airflow_automl.triggers.automl import ERROR, TIMEOUT, AutoMLJobTrigger

    class PerJobDescribeTrigger(AutoMLJobTrigger):
        """The usual design: its own client, one DescribeAutoMLJobV2 per interval."""

        async def wait_for_end(self):
            hook = self.hook
            async with await hook.get_async_conn() as client:
                while True:
                    try:
                        view = await hook.async_describe_job(client, self.job_name, self.api_version)
                    except AutoMLApiError as error:
                        if error.code in ("ResourceNotFound", "ValidationException"):
                            return self._event(ERROR, str(error))
                    else:
                        if view.is_terminal:
                            return self._terminal_event(view)
                    if self.deadline is not None and time.time() >= self.deadline:
                        return self._event(TIMEOUT, "deadline")
                    await asyncio.sleep(self.poll_interval)

    calls: Counter[str] = Counter()
    original = AioBaseClient._make_api_call

    async def counted(self, operation_name, api_params):
        calls[operation_name] += 1
        return await original(self, operation_name, api_params)

    AioBaseClient._make_api_call = counted
    names = [f"{args.prefix}-{i:04d}" for i in range(args.n)]
    trigger_class = PerJobDescribeTrigger if args.mode == "per-job" else AutoMLJobTrigger
    driver = sagemaker_client(args.endpoint)
    completed_at: dict[str, float] = {}
    fired_at: dict[str, list[float]] = {}
    statuses: dict[str, str] = {}

    async def warm_up() -> None:
        # Load what any triggerer has loaded before its first trigger: modules, one client, its model.
        from airflow_automl.hooks.automl import AutoMLHook

        hook = AutoMLHook(aws_conn_id=CONN_ID)
        async with await hook.get_async_conn() as client:
            await client.list_auto_ml_jobs(MaxResults=1)
        driver.list_auto_ml_jobs(MaxResults=1)

    async def wait_one(trigger) -> None:
        async for event in trigger.run():
            fired_at.setdefault(trigger.job_name, []).append(time.time())
            statuses[trigger.job_name] = event.payload["status"]

    def end_jobs(chosen: list[str], offsets: list[float], start: float) -> None:
        for name, offset in sorted(zip(chosen, offsets, strict=True), key=lambda pair: pair[1]):
            time.sleep(max(0.0, start + offset - time.time()))
            driver.stop_auto_ml_job(AutoMLJobName=name)
            completed_at[name] = time.time()

    async def scenario() -> dict:
        await warm_up()
        gc.collect()
        rss_before = rss_kib()
        tasks = [
            asyncio.create_task(
                wait_one(trigger_class(job_name=name, aws_conn_id=CONN_ID, poll_interval=args.interval))
            )
            for name in names
        ]
        # Registration: every trigger has looked at its job once.
        registration_started = time.monotonic()
        if args.mode == "shared":
            while (
                not (pollers := poller_module.active_pollers())
                or not all(
                    watch.looked for poller in pollers for watches in poller._watches.values() for watch in watches
                )
                or sum(p.watched_jobs() for p in pollers) < args.n
            ):
                await asyncio.sleep(0.1)
        else:
            while calls["DescribeAutoMLJobV2"] < args.n:
                await asyncio.sleep(0.1)
        registration_seconds = time.monotonic() - registration_started
        registration_calls = sum(calls.values())
        # Steady state: the jobs' creation (a burst of changes every listing within the overlap
        # window still returns) is behind us.
        await asyncio.sleep(max(0.0, args.not_before - time.time()))
        # The window: a few intervals, some jobs ending at random moments.
        window = args.interval * args.intervals
        chosen = random.Random(args.n).sample(names, args.completions)
        offsets = [random.Random(i).uniform(0, window - 1.0) for i in range(args.completions)]
        calls.clear()
        start = time.time()
        ender = threading.Thread(target=end_jobs, args=(chosen, offsets, start), daemon=True)
        ender.start()
        await asyncio.sleep(window)
        window_calls = dict(calls)
        rss_after = rss_kib()
        # Let the last endings arrive (one interval and some slack), then stop waiting.
        deadline = time.time() + args.interval + 15
        while time.time() < deadline and not all(name in fired_at for name in chosen):
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        delays = [
            fired_at[name][0] - completed_at[name] for name in chosen if name in fired_at and name in completed_at
        ]
        return {
            "mode": args.mode,
            "n": args.n,
            "interval": args.interval,
            "window_seconds": window,
            "registration_seconds": round(registration_seconds, 1),
            "registration_calls": registration_calls,
            "calls_per_minute": round(sum(window_calls.values()) * 60 / window, 1),
            "calls_by_operation": window_calls,
            "rss_kib_before": rss_before,
            "rss_kib_after": rss_after,
            "rss_kib_per_job": round((rss_after - rss_before) / args.n, 1),
            "ended": len(chosen),
            "fired_once": sum(1 for name in chosen if len(fired_at.get(name, [])) == 1),
            "fired_twice": sum(1 for times in fired_at.values() if len(times) > 1),
            "fired_unended": sorted(set(fired_at) - set(chosen)),
            "wrong_status": sorted(name for name in chosen if statuses.get(name) not in (None, "stopped")),
            "delay_max": round(max(delays), 2) if delays else None,
            "delay_median": round(statistics.median(delays), 2) if delays else None,
        }

    return asyncio.run(scenario())


def run_burst(args: argparse.Namespace) -> dict:
    """The triggerer side of --burst: N jobs made at once, N triggers at once, calls a minute at a time."""
    import asyncio
    import gc
    import random
    import threading

    import requests
    from aiobotocore.client import AioBaseClient

    from airflow_automl.triggers import poller as poller_module
    from airflow_automl.triggers.automl import AutoMLJobTrigger

    calls: list[tuple[float, str, str | None]] = []  # (seconds since the burst, operation, job)
    original = AioBaseClient._make_api_call
    burst_at = 0.0

    async def counted(self, operation_name, api_params):
        calls.append((time.time() - burst_at, operation_name, api_params.get("AutoMLJobName")))
        return await original(self, operation_name, api_params)

    AioBaseClient._make_api_call = counted
    driver = sagemaker_client(args.endpoint)
    names = [f"burst-{i:05d}" for i in range(args.n)]
    duration = args.burst_minutes * 60
    completed_at: dict[str, float] = {}
    fired: dict[str, list[tuple[float, str]]] = {}

    async def wait_one(trigger) -> None:
        async for event in trigger.run():
            fired.setdefault(trigger.job_name, []).append((time.time(), event.payload["status"]))

    def end_jobs(chosen: list[str], offsets: list[float]) -> None:
        for name, offset in sorted(zip(chosen, offsets, strict=True), key=lambda pair: pair[1]):
            time.sleep(max(0.0, burst_at + offset - time.time()))
            driver.stop_auto_ml_job(AutoMLJobName=name)
            completed_at[name] = time.time()

    async def scenario() -> dict:
        nonlocal burst_at
        from airflow_automl.hooks.automl import AutoMLHook

        # Load what any triggerer has loaded before its first trigger: modules, one client, its model.
        async with await AutoMLHook(aws_conn_id=CONN_ID).get_async_conn() as client:
            await client.list_auto_ml_jobs(MaxResults=1)
        driver.list_auto_ml_jobs(MaxResults=1)
        calls.clear()
        gc.collect()
        rss_before = rss_kib()
        burst_at = time.time()
        requests.post(f"{args.endpoint}/burst", json={"prefix": "burst", "n": args.n}, timeout=60).raise_for_status()
        tasks = [
            asyncio.create_task(
                wait_one(AutoMLJobTrigger(job_name=name, aws_conn_id=CONN_ID, poll_interval=args.interval))
            )
            for name in names
        ]
        rng = random.Random(args.n)
        chosen = rng.sample(names, args.completions)
        # Ends spread over the run, the first 2 minutes included; the last leaves an interval to arrive.
        offsets = [rng.uniform(5.0, duration - args.interval - 5.0) for _ in chosen]
        threading.Thread(target=end_jobs, args=(chosen, offsets), daemon=True).start()
        # Registered: every trigger is with the poller (or has fired already) and has been looked at once.
        while True:
            pollers = poller_module.active_pollers()
            watched = sum(p.watched_jobs() for p in pollers)
            looked = all(
                watch.looked for poller in pollers for watches in poller._watches.values() for watch in watches
            )
            if (watched + len(fired) >= args.n and looked) or all(task.done() for task in tasks):
                break
            await asyncio.sleep(0.5)
        registered_after = time.time() - burst_at
        gc.collect()
        rss_registered = rss_kib()
        # Steady state is measured over the last 2 minutes, which must follow the registration.
        run_seconds = max(duration, registered_after + 125.0)
        await asyncio.sleep(max(0.0, burst_at + run_seconds - time.time()))
        rss_end = rss_kib()
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [
            repr(o) for o in outcomes if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)
        ]
        delays = [fired[name][0][0] - completed_at[name] for name in chosen if name in fired and name in completed_at]
        delays_after_registration = [
            fired[name][0][0] - completed_at[name]
            for name in chosen
            if name in fired and name in completed_at and completed_at[name] - burst_at > registered_after
        ]
        return {
            "n": args.n,
            "interval": args.interval,
            "run_seconds": run_seconds,
            "completed_at": {name: at - burst_at for name, at in completed_at.items()},
            "registered_after_seconds": round(registered_after, 1),
            "calls": calls,
            "rss_kib_before": rss_before,
            "rss_kib_registered": rss_registered,
            "rss_kib_end": rss_end,
            "ended": len(chosen),
            "ended_fired_once": sum(1 for name in chosen if len(fired.get(name, [])) == 1),
            "missed": sorted(name for name in chosen if name not in fired),
            "fired_twice": sorted(name for name, events in fired.items() if len(events) > 1),
            "fired_unended": sorted(set(fired) - set(chosen)),
            "wrong_status": sorted(
                name for name in chosen if any(status != "stopped" for _, status in fired.get(name, []))
            ),
            "delays": delays,
            "delays_after_registration": delays_after_registration,
            "trigger_errors": errors[:5],
            "trigger_error_count": len(errors),
        }

    return asyncio.run(scenario())


def print_burst(result: dict) -> None:
    n, interval, run_seconds = result["n"], result["interval"], result["run_seconds"]
    # Each job's first describe is its trigger's registration; a describe after the job's end
    # delivers its event; any other describe is the safety sweep.
    seen: set[str] = set()
    kinds = []
    for at, operation, job in result["calls"]:
        if operation == "ListAutoMLJobs":
            kind = "list"
        elif job not in seen:
            kind = "registration"
        elif job in result["completed_at"] and at >= result["completed_at"][job]:
            kind = "end"
        else:
            kind = "sweep"
        if job:
            seen.add(job)
        kinds.append((at, kind))

    def count(start: float, stop: float, kind: str | None = None) -> int:
        return sum(1 for at, k in kinds if start <= at < stop and (kind is None or k == kind))

    print(
        f"{n} jobs created at once, {n} triggers registered at once, interval {interval:g} s; every trigger "
        f"had looked at its job {result['registered_after_seconds']} s after the burst; run {run_seconds:.0f} s"
    )
    print(f"{'minute':>6} | {'List':>6} | {'Describe: registration':>22} | {'sweep':>6} | {'end':>4}")
    for minute in range(int(run_seconds // 60)):
        start, stop = minute * 60, (minute + 1) * 60
        print(
            f"{minute + 1:>6} | {count(start, stop, 'list'):>6} | {count(start, stop, 'registration'):>22} | "
            f"{count(start, stop, 'sweep'):>6} | {count(start, stop, 'end'):>4}"
        )
    first_all = count(0, 120) / 2
    first = (count(0, 120) - count(0, 120, "registration")) / 2
    steady = count(run_seconds - 120, run_seconds) / 2
    design = n * 60 / interval
    delays = result["delays"]
    rss_per_job = (result["rss_kib_registered"] - result["rss_kib_before"]) * 1024 / 1000 / n
    rss_end_per_job = (result["rss_kib_end"] - result["rss_kib_before"]) * 1024 / 1000 / n
    spurious = len(result["fired_twice"]) + len(result["fired_unended"]) + len(result["wrong_status"])
    print()
    print(
        f"calls/min over the first 2 minutes: {first_all:.1f} in all; {first:.1f} without the "
        f"{count(0, 120, 'registration')} registration describes (one per new trigger, in any design)"
    )
    print(
        f"calls/min in steady state (the last 2 minutes): {steady:.1f}; first 2 minutes without registrations / steady "
        f"= {first / steady:.2f}x (target <= 3x); with them {first_all / steady:.0f}x"
    )
    print(
        f"one Describe per job per interval: {design:.0f} calls/min; steady state makes {design / steady:.0f}x fewer "
        f"(target >= 300x)"
    )
    print(
        f"RSS per watched job: {rss_per_job:.1f} KB once registered, {rss_end_per_job:.1f} KB at the end "
        f"(target <= 50 KB; RSS {result['rss_kib_before']} -> {result['rss_kib_registered']} -> "
        f"{result['rss_kib_end']} KiB)"
    )
    if delays:
        print(
            f"event delay after a job's end: max {max(delays):.2f} s, median {statistics.median(delays):.2f} s "
            f"over {len(delays)} ends (target <= interval + 2 s = {interval + 2:g} s)"
        )
        later = result["delays_after_registration"]
        if later:
            print(
                f"  of which {len(later)} ended after every trigger had registered: max {max(later):.2f} s, "
                f"median {statistics.median(later):.2f} s"
            )
    if result["trigger_error_count"]:
        print(f"TRIGGERS FAILED: {result['trigger_error_count']}, e.g. {result['trigger_errors']}")
    print(
        f"ends: {result['ended']}, each fired once: {result['ended_fired_once']}, missed: {len(result['missed'])}; "
        f"spurious events: {spurious} (second events {len(result['fired_twice'])}, "
        f"for jobs that did not end {len(result['fired_unended'])}, wrong status {len(result['wrong_status'])})"
    )
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def burst_run(args: argparse.Namespace, work: Path) -> dict:
    """Start the stand-in, then the triggerer side in a fresh process; returns its figures."""
    port_file = work / "stand-in.port"
    with open(work / "stand-in.log", "wb") as log:
        stand_in = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "benchmarks" / "sagemaker_stand_in.py"), "--port-file", str(port_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or stand_in.poll() is not None:
                raise RuntimeError(f"the SageMaker stand-in did not start; see {work / 'stand-in.log'}")
            time.sleep(0.1)
        args.endpoint = f"http://127.0.0.1:{port_file.read_text()}"
        return configuration_process(args, "burst", args.burst, "burst", work)
    finally:
        stand_in.terminate()
        stand_in.wait(timeout=30)


def configuration_process(args: argparse.Namespace, mode: str, n: int, prefix: str, work: Path) -> dict:
    result_path = work / f"{prefix}.json"
    connection = {
        "conn_type": "aws",
        "login": "bench",
        "password": "bench",
        "extra": {"endpoint_url": args.endpoint, "region_name": "us-east-1"},
    }
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [
        sys.executable,
        __file__,
        "--one",
        mode,
        "--n",
        str(n),
        "--prefix",
        prefix,
        "--endpoint",
        args.endpoint,
        "--interval",
        str(args.interval),
        "--intervals",
        str(args.intervals),
        "--completions",
        str(args.completions),
        "--result",
        str(result_path),
        "--not-before",
        str(args.not_before),
        "--burst-minutes",
        str(args.burst_minutes),
    ]
    with open(work / f"{prefix}.log", "wb") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=REPO_ROOT)
    return json.loads(result_path.read_text())


def print_table(results: list[dict], interval: float) -> None:
    """One line per N; "design" is one Describe per job per interval (N x 60 / interval a minute)."""
    by_key = {(r["mode"], r["n"]): r for r in results}

    def kb(r):
        return f"{r['rss_kib_per_job']:.1f}" if r else "n/a"

    def delay(r):
        return f"{r['delay_max']:.1f} / {r['delay_median']:.1f}" if r and r["delay_max"] is not None else "n/a"

    def events(r):
        if not r:
            return "n/a"
        good = (
            r["fired_once"] == r["ended"] and not r["fired_twice"] and not r["fired_unended"] and not r["wrong_status"]
        )
        return f"{r['fired_once']}/{r['ended']}" + ("" if good else " WRONG")

    columns = [
        ("N", 5),
        ("per-job calls/min", 17),
        ("design", 7),
        ("shared calls/min", 16),
        ("fewer vs design", 15),
        ("fewer vs measured", 17),
        ("KB/job per-job", 14),
        ("KB/job shared", 13),
        ("delay s per-job max/med", 23),
        ("delay s shared max/med", 22),
        ("events per-job", 14),
        ("events shared", 13),
    ]
    print(" | ".join(f"{title:>{width}}" for title, width in columns))
    print("-+-".join("-" * width for _, width in columns))
    for n in sorted({r["n"] for r in results}):
        shared, per_job = by_key.get(("shared", n)), by_key.get(("per-job", n))
        design = n * 60 / interval
        cells = [
            n,
            f"{per_job['calls_per_minute']:.0f}" if per_job else "n/a",
            f"{design:.0f}",
            f"{shared['calls_per_minute']:.0f}" if shared else "n/a",
            f"{design / shared['calls_per_minute']:.0f}x" if shared and shared["calls_per_minute"] else "n/a",
            f"{per_job['calls_per_minute'] / shared['calls_per_minute']:.0f}x"
            if shared and per_job and shared["calls_per_minute"]
            else "n/a",
            kb(per_job),
            kb(shared),
            delay(per_job),
            delay(shared),
            events(per_job),
            events(shared),
        ]
        print(" | ".join(f"{str(cell):>{width}}" for cell, (_, width) in zip(cells, columns, strict=True)))
    print()
    for r in results:
        print(
            f"{r['mode']:>7} N={r['n']:<5} registration: {r['registration_calls']} calls in "
            f"{r['registration_seconds']} s; window {r['window_seconds']:.0f} s: {r['calls_by_operation']}; "
            f"RSS {r['rss_kib_before']} -> {r['rss_kib_after']} KiB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of every trigger (s)")
    parser.add_argument("--intervals", type=int, default=2, help="length of the measured window, in intervals")
    parser.add_argument("--completions", type=int, default=10, help="jobs ended during each window")
    parser.add_argument(
        "--per-job-max",
        type=int,
        default=2000,
        help="largest N run with one Describe per job (2,000 takes ~4 minutes and ~3.5 GB)",
    )
    parser.add_argument("--modes", nargs="+", default=["per-job", "shared"])
    parser.add_argument(
        "--burst",
        type=int,
        metavar="N",
        help="instead: N jobs arriving at once, against the in-memory SageMaker stand-in",
    )
    parser.add_argument(
        "--burst-minutes",
        type=int,
        default=5,
        help="length of the --burst run (at least 4; longer when registering takes more than 3 minutes less)",
    )
    # Internal: run one configuration (used by the parent in a fresh process).
    parser.add_argument("--one", choices=["per-job", "shared", "burst"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--not-before", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        args.mode = args.one
        result = run_burst(args) if args.one == "burst" else run_configuration(args)
        Path(args.result).write_text(json.dumps(result))
        return 0
    if args.burst:
        if args.burst_minutes < 4:
            parser.error("--burst-minutes must be at least 4: the first 2 minutes and 2 of steady state")
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        with tempfile.TemporaryDirectory(prefix="trigger-burst-") as tmp:
            print_burst(burst_run(args, Path(tmp)))
        return 0

    configurations = [
        (mode, n) for n in args.sizes for mode in args.modes if not (mode == "per-job" and n > args.per_job_max)
    ]
    total_jobs = sum(n for _, n in configurations)
    with tempfile.TemporaryDirectory(prefix="trigger-scale-") as tmp:
        work = Path(tmp)
        service = start_service(work, max_active=total_jobs + 10)
        args.endpoint = service.endpoint_url
        try:
            create_jobs(args.endpoint, work, ["bench-idle-runner"])
            started = time.monotonic()
            names = {(mode, n): [f"{mode[:1]}{n}-{i:04d}" for i in range(n)] for mode, n in configurations}
            create_jobs(args.endpoint, work, [name for batch in names.values() for name in batch])
            # Measure after the creations have aged out of the shared poller's overlap window.
            from airflow_automl.triggers.poller import DEFAULT_SETTINGS

            args.not_before = time.time() + DEFAULT_SETTINGS.overlap_seconds + args.interval
            print(
                f"created {total_jobs} InProgress jobs in {time.monotonic() - started:.1f} s; "
                f"interval {args.interval} s, window {args.intervals} intervals, "
                f"{args.completions} jobs end per window",
                flush=True,
            )
            results = []
            for mode, n in configurations:
                result = configuration_process(args, mode, n, f"{mode[:1]}{n}", work)
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            service.stop()
        print()
        print_table(results, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
