"""AWS collection at scale: `assay run` over the whole AWS catalog against moto on loopback.

    python bench/aws.py [--sizes 10 100 500] [--rtt-ms 0] [--json results.json]
                        [--select tags=encryption ...] [--custodian PATH]
                        [--baseline bench/aws-baseline.json] [--save-baseline]

For each N, an emulated account gets N S3 buckets, N IAM users, N EBS volumes, N RDS
instances and N security groups (plus the account-level settings), then `assay run` runs
in a fresh process twice: with the default concurrency (8 collector threads, 16 detail
workers per target) and with one of each. Each run reports wall time, AWS API calls
(counted by a botocore `before-call` hook: one per operation, pages included), HTTP
requests sent (retries included), calls per second and peak RSS (taken when the run
returns, its JSON report written to a file as a real run writes it).

Then, for each selection (`--select`: a profile `controls:` filter such as
``tags=encryption`` or ``ids=aws-s3-default-encryption``; the whole AWS catalog by
default), the same collection runs twice more, collector by collector through the
registry as a run collects: reading every attribute (what `assay run` does until the
engine passes the plan) and reading only the attributes the selected controls need
(`registry.plan_attributes`). Calls, wall time and peak memory print side by side.

With `--custodian PATH` (the `custodian` of a virtualenv holding Cloud Custodian, which is
no dependency of assay), each selection whose AWS controls have equivalent Custodian
policies in `bench/custodian/` (a file whose policy names are exactly those control ids)
also runs as `assay run` and as `custodian run` against the same moto server, each in a
fresh process with its API calls counted by the same hook; the bench prints both, the
ratios, and whether the two found the same failing resources per control.

Every figure prints beside the one stored in `--baseline` (the figures of the previous
release, with the commit they were measured at) for the same N; `--save-baseline` stores
this run's figures there, with the current commit.

moto runs in its own process, so the peak memory is assay's alone, and the emulator's
single Python process bounds the calls per second a run can reach. On loopback a call
costs no network time, which real AWS does (tens of milliseconds away); `--rtt-ms`
adds that wait to every HTTP request, in the calling thread as a network would, to show
what the thread pool buys against a real endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REGION = "us-east-1"
KEY = "bench"
HERE = Path(__file__).resolve().parent
POLICIES = HERE / "custodian"
BASELINE = HERE / "aws-baseline.json"
STATUS = Path("/proc/self/status")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto did not start")


def post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=30).close()


def seed(url: str, n: int) -> None:
    """N of each resource type, half of them compliant, seeded on 16 threads."""
    import boto3

    session = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION)
    s3, iam, ec2, rds = (session.client(s, endpoint_url=url) for s in ("s3", "iam", "ec2", "rds"))
    rds.describe_db_instances()  # moto loads its RDS catalog on first use

    def bucket(i: int) -> None:
        name = f"bench-bucket-{i:05d}"
        s3.create_bucket(Bucket=name)
        if i % 2:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_tagging(
                Bucket=name, Tagging={"TagSet": [{"Key": "data-class", "Value": "records"}]}
            )

    def user(i: int) -> None:
        name = f"bench-user-{i:05d}"
        iam.create_user(UserName=name)
        if i % 2:
            iam.create_login_profile(UserName=name, Password="Bench-passw0rd!")
        else:
            iam.create_access_key(UserName=name)

    def volume(i: int) -> None:
        ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, Encrypted=bool(i % 2))

    def database(i: int) -> None:
        rds.create_db_instance(
            DBInstanceIdentifier=f"bench-db-{i:05d}",
            Engine="postgres",
            EngineVersion="16.3",
            DBInstanceClass="db.t3.micro",
            MasterUsername="app",
            MasterUserPassword="bench-password",
            AllocatedStorage=20,
            StorageEncrypted=bool(i % 2),
            BackupRetentionPeriod=7 if i % 2 else 1,
        )

    def group(i: int) -> None:
        gid = ec2.create_security_group(GroupName=f"bench-sg-{i:05d}", Description="b")["GroupId"]
        port = 22 if i % 2 else 443
        ec2.authorize_security_group_ingress(
            GroupId=gid,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )

    with ThreadPoolExecutor(16) as pool:
        for make in (bucket, user, volume, database, group):
            list(pool.map(make, range(n)))


def profile(workdir: Path, url: str, workers: int) -> Path:
    path = workdir / f"bench-{workers}.yaml"
    path.write_text(
        "controls: {tags: [aws]}\n"
        "targets:\n"
        f"  - {{name: bench, provider: aws, endpoint_url: '{url}', regions: [{REGION}],"
        f" workers: {workers}}}\n"
    )
    return path


def aws_env(**extra: str) -> dict[str, str]:
    """The environment of a measured process: the bench's credentials, no user config."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **extra,
    }
    env.pop("AWS_PROFILE", None)
    return env


def last_json_line(out: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    if out.returncode != 0:
        raise RuntimeError(f"the measured {what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_child(profile_path: Path, workers: int, workdir: Path, rtt_ms: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(profile_path),
            "--workers",
            str(workers),
            "--rtt-ms",
            str(rtt_ms),
        ],
        env=aws_env(),
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    return last_json_line(out, "run")


def child(profile_path: str, workers: int, rtt_ms: int) -> None:
    """One measured `assay run`, in this fresh process; prints one JSON line."""
    from botocore import handlers

    calls: Counter[str] = Counter()
    sends = Counter[str]()

    def count_call(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def count_send(**_: Any) -> None:
        sends["http"] += 1
        if rtt_ms:
            time.sleep(rtt_ms / 1000)

    # Every botocore session registers these at creation, so the run's own sessions count.
    handlers.BUILTIN_HANDLERS.append(("before-call", count_call))
    handlers.BUILTIN_HANDLERS.append(("before-send", count_send))

    from click.testing import CliRunner

    from assay.engine.cli import main

    phases = Phases()
    # The command's own steps, looked up in its module when it runs them.
    main._collect = phases.marking("collection", main._collect)
    main._report = phases.marking("evaluation and ledger", main._report)
    main.deliver = phases.marking("reports", main.deliver)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = ["run", "--profile", profile_path, "--format", "json", "--output", str(report)]
        args += ["--workers", str(workers), "--ledger", f"sqlite:///{tmp}/ledger.db"]
        phases.start()
        start = time.perf_counter()
        CliRunner().invoke(main.cli, args, catch_exceptions=False)
        elapsed = time.perf_counter() - start
        # The run's own peak: reading its report back below is the bench's work.
        peak = peak_rss_mb()
        phases.stop()
        doc = json.loads(report.read_text())
    total = sum(calls.values())
    resources: dict[str, set[str]] = {}
    failing: Counter[str] = Counter()
    for result in doc["results"]:
        resources.setdefault(result["resource"]["type"], set()).add(result["resource"]["id"])
        failing[result["control"]] += result["status"] == "fail"
    print(
        json.dumps(
            {
                "seconds": round(elapsed, 2),
                "api_calls": total,
                "http_requests": sends["http"],
                "calls_per_second": round(total / elapsed),
                "peak_rss_mb": peak,
                "peak_rss_mb_by_phase": phases.peaks,
                "resources": sum(len(ids) for ids in resources.values()),
                "resources_by_type": {t: len(ids) for t, ids in sorted(resources.items())},
                "results": doc["summary"]["results"],
                "by_status": doc["summary"]["by_status"],
                "failing": dict(sorted(failing.items())),
                "collection_failures": len(doc["summary"]["collection_failures"]),
                "top_calls": dict(calls.most_common(6)),
            }
        )
    )


class Phases:
    """The peak RSS of each step of a run (planning, then what `marking` names), sampled
    from /proc every 10 ms; nothing where /proc is missing (the overall peak still is)."""

    def __init__(self) -> None:
        self.now = "planning"
        self.peaks: dict[str, int] = {}
        self.done = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)

    def marking(self, phase: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def marked(*args: Any, **kwargs: Any) -> Any:
            self.now = phase
            return step(*args, **kwargs)

        return marked

    def start(self) -> None:
        if STATUS.is_file():
            self.sampler.start()

    def stop(self) -> None:
        self.done.set()
        if self.sampler.is_alive():
            self.sampler.join()

    def _sample(self) -> None:
        while not self.done.wait(0.01):
            for line in STATUS.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    mb = int(line.split()[1]) // 1024
                    self.peaks[self.now] = max(self.peaks.get(self.now, 0), mb)


def peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def collect_child(profile_path: str, planned: bool, rtt_ms: int) -> None:
    """One measured collection of the profile's AWS resource types, in this fresh process,
    with every attribute or only the planned ones; prints one JSON line."""
    from botocore import handlers

    calls: Counter[str] = Counter()

    def count_call(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def wait(**_: Any) -> None:
        if rtt_ms:
            time.sleep(rtt_ms / 1000)

    handlers.BUILTIN_HANDLERS.append(("before-call", count_call))
    handlers.BUILTIN_HANDLERS.append(("before-send", wait))

    from assay.checks import registry
    from assay.engine.planner import make_plan

    plan = make_plan(Path(profile_path))
    needs: dict[str, list[frozenset[str] | None]] = {}
    for lc in plan.controls:
        if lc.control.provider == "aws":
            needs.setdefault(lc.control.resource, []).append(
                registry.attributes_needed(lc.control.check, lc.control.rule)
            )
    [target] = plan.targets
    provider = registry.get_provider("aws")
    assert provider is not None
    start = time.perf_counter()
    conn = provider.connect(target.options, 60.0)
    resources = 0
    for rtype, wanted in needs.items():
        attributes = registry.plan_attributes(wanted) if planned else None
        collector = registry.get_collector(rtype)
        assert collector is not None
        # As the engine runs a collector: its service's clients go when it is done.
        with conn.collecting():
            resources += sum(1 for _ in collector.run(conn, attributes))
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": round(elapsed, 2),
                "api_calls": sum(calls.values()),
                "peak_rss_mb": peak_rss_mb(),
                "resources": resources,
                "controls": len(plan.controls),
                "aws_controls": sorted(
                    lc.control.id for lc in plan.controls if lc.control.provider == "aws"
                ),
                "top_calls": dict(calls.most_common(6)),
            }
        )
    )


def run_collect(profile_path: Path, planned: bool, workdir: Path, rtt_ms: int) -> dict[str, Any]:
    command = [sys.executable, "-P", __file__, "--collect", str(profile_path)]
    command += ["--rtt-ms", str(rtt_ms)]
    out = subprocess.run(
        [*command, *(["--planned"] if planned else [])],
        env=aws_env(),
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    return last_json_line(out, "collection")


def selection_profile(workdir: Path, url: str, selection: str) -> Path:
    """A profile for `selection` (``key=v1,v2`` of a profile's `controls:`, or ``all``)."""
    key, _, values = selection.partition("=")
    chosen = "{tags: [aws]}" if selection == "all" else f"{{{key}: [{values}]}}"
    path = workdir / f"select-{abs(hash(selection))}.yaml"
    path.write_text(
        f"controls: {chosen}\n"
        "targets:\n"
        f"  - {{name: bench, provider: aws, endpoint_url: '{url}', regions: [{REGION}]}}\n"
    )
    return path


def custodian_child(policy: str, outdir: str, rtt_ms: int) -> None:
    """One measured `custodian run` of `policy`, in this fresh process (the Python of
    Custodian's virtualenv, which sends every client to moto through AWS_ENDPOINT_URL);
    prints one JSON line."""
    from botocore import handlers

    calls: Counter[str] = Counter()
    moto = urlsplit(os.environ["AWS_ENDPOINT_URL"])

    def count_call(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def send(request: Any, **_: Any) -> None:
        # Custodian names some endpoints itself (SQS, STS), past AWS_ENDPOINT_URL.
        url = urlsplit(request.url)
        if url.netloc != moto.netloc:
            request.url = urlunsplit((moto.scheme, moto.netloc, url.path, url.query, ""))
        if rtt_ms:
            time.sleep(rtt_ms / 1000)

    handlers.BUILTIN_HANDLERS.append(("before-call", count_call))
    handlers.BUILTIN_HANDLERS.append(("before-send", send))

    from c7n.cli import main as custodian

    out = Path(outdir)
    # A cache of its own: Custodian shares one resource listing between the policies of
    # a run (as it does by default), never with an earlier run.
    sys.argv = ["custodian", "run", "--region", REGION, "--cache", str(out / "cache")]
    sys.argv += ["--output-dir", str(out), policy]
    start = time.perf_counter()
    code: Any = 0
    try:
        custodian()
    except SystemExit as exc:
        code = exc.code  # a policy that failed: it has no resources.json
    elapsed = time.perf_counter() - start
    peak = peak_rss_mb()
    matched = {
        d.name: len(json.loads((d / "resources.json").read_text()))
        for d in sorted(out.iterdir())
        if (d / "resources.json").is_file()
    }
    total = sum(calls.values())
    print(
        json.dumps(
            {
                "seconds": round(elapsed, 2),
                "api_calls": total,
                "calls_per_second": round(total / elapsed),
                "peak_rss_mb": peak,
                "matched": matched,
                "exit_code": code,
                "top_calls": dict(calls.most_common(6)),
            }
        )
    )


def run_custodian(
    custodian: Path, policy: Path, url: str, workdir: Path, rtt_ms: int
) -> dict[str, Any]:
    """`custodian run` of `policy` against moto at `url`, measured in a fresh process of
    Custodian's own Python (the `python` beside its `custodian` script)."""
    python = custodian.parent / "python"
    outdir = Path(tempfile.mkdtemp(dir=workdir, prefix="custodian-"))
    command = [str(python), "-P", __file__, "--custodian-child", str(policy)]
    command += ["--out", str(outdir), "--rtt-ms", str(rtt_ms)]
    out = subprocess.run(
        command,
        env=aws_env(AWS_ENDPOINT_URL=url),
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    return last_json_line(out, "Custodian run")


def custodian_policies(control_ids: list[str]) -> Path | None:
    """The file of `bench/custodian/` whose policies are named exactly `control_ids`."""
    import yaml

    for path in sorted(POLICIES.glob("*.yaml")):
        names = {p["name"] for p in yaml.safe_load(path.read_text())["policies"]}
        if names == set(control_ids):
            return path
    return None


def check_custodian(custodian: Path) -> None:
    if not custodian.is_file() or not (custodian.parent / "python").is_file():
        raise SystemExit(
            f"--custodian {custodian}: expected the `custodian` script of a virtualenv "
            "(python -m venv V && V/bin/pip install c7n, then --custodian V/bin/custodian)"
        )


def verdicts(assay: dict[str, Any], custodian: dict[str, Any], ids: list[str]) -> str:
    """Whether each control failed the same number of resources in both runs."""
    differ = [
        f"{cid} (assay {assay['failing'].get(cid, 0)}, Custodian "
        f"{custodian['matched'].get(cid, 'no result')})"
        for cid in ids
        if assay["failing"].get(cid, 0) != custodian["matched"].get(cid)
    ]
    agree = f"{len(ids) - len(differ)} of {len(ids)} controls fail as many resources in both"
    return agree + (f"; differ: {', '.join(differ)}" if differ else "")


def ratio(new: float, old: float) -> str:
    return f"x{new / old:.2f}" if old else "x-"


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def load_baseline(path: Path) -> dict[str, Any]:
    """The stored figures of the previous release: {commit, measured_at, command, figures}."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def baseline_row(baseline: dict[str, Any], n: int, rtt_ms: int) -> dict[str, Any]:
    for row in baseline.get("figures", []):
        if row["n"] == n and row["rtt_ms"] == rtt_ms:
            return row  # type: ignore[no-any-return]
    return {}


def was(baseline: dict[str, Any], figures: dict[str, Any] | None, now: dict[str, Any]) -> str:
    """`figures` of the baseline beside `now`: calls, time and memory, with the ratios."""
    if not figures:
        return ""
    return (
        f"\n          previous ({baseline['commit']}): {figures['api_calls']:5d} calls "
        f"{figures['seconds']:6.2f}s {figures['peak_rss_mb']:4d} MB; now calls "
        f"{ratio(now['api_calls'], figures['api_calls'])}, time "
        f"{ratio(now['seconds'], figures['seconds'])}, memory "
        f"{ratio(now['peak_rss_mb'], figures['peak_rss_mb'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument(
        "--rtt-ms", type=int, default=0, help="Simulated network round trip per request."
    )
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument(
        "--select",
        nargs="+",
        default=["all"],
        help="Control selections to compare planned and full collection on "
        "(tags=encryption, ids=aws-s3-default-encryption, all).",
    )
    parser.add_argument(
        "--custodian",
        type=Path,
        help="The `custodian` of a virtualenv with Cloud Custodian (pip install c7n): "
        "compare each selection with equivalent policies in bench/custodian/.",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        help="The previous release's figures, printed beside this run's.",
    )
    parser.add_argument(
        "--save-baseline",
        action="store_true",
        help="Store this run's figures as the baseline, with the current commit.",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--collect", help=argparse.SUPPRESS)
    parser.add_argument("--custodian-child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--planned", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.workers, args.rtt_ms)
        return
    if args.collect:
        collect_child(args.collect, args.planned, args.rtt_ms)
        return
    if args.custodian_child:
        custodian_child(args.custodian_child, args.out, args.rtt_ms)
        return
    if args.custodian:
        check_custodian(args.custodian)
    else:
        print("Cloud Custodian: not compared (--custodian PATH to a virtualenv's custodian)")
    baseline = load_baseline(args.baseline)
    if baseline:
        print(f"previous release: {baseline['commit']}, measured {baseline['measured_at']}")
    moto, url = start_moto()
    figures = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            for n in args.sizes:
                figures.append(measure(n, url, workdir, args, baseline))
    finally:
        moto.terminate()
        moto.wait(10)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.save_baseline:
        stored = {
            "commit": git_commit(),
            "measured_at": time.strftime("%Y-%m-%d"),
            "command": "python bench/aws.py " + " ".join(sys.argv[1:]),
            "figures": figures,
        }
        args.baseline.write_text(json.dumps(stored, indent=2) + "\n")


def measure(
    n: int, url: str, workdir: Path, args: argparse.Namespace, baseline: dict[str, Any]
) -> dict[str, Any]:
    """Every figure for an account of size `n`, printed as it comes."""
    post(f"{url}/moto-api/reset")
    started = time.perf_counter()
    seed(url, n)
    seeded = time.perf_counter() - started
    # moto builds each service's backend on its first request: not assay's time.
    run_child(profile(workdir, url, 16), 8, workdir, 0)
    pooled = run_child(profile(workdir, url, 16), 8, workdir, args.rtt_ms)
    single = run_child(profile(workdir, url, 1), 1, workdir, args.rtt_ms)
    before = baseline_row(baseline, n, args.rtt_ms)
    row: dict[str, Any] = {
        "n": n,
        "rtt_ms": args.rtt_ms,
        "seed_seconds": round(seeded, 1),
        "pooled": pooled,
        "single": single,
        "planning": {},
        "custodian": {},
    }
    print(
        f"N={n:4d}: {pooled['resources']:5d} resources {pooled['results']:5d} results  "
        f"pooled {pooled['seconds']:6.2f}s {pooled['api_calls']:5d} calls "
        f"{pooled['calls_per_second']:5d}/s {pooled['peak_rss_mb']:4d} MB | "
        f"one worker {single['seconds']:6.2f}s "
        f"(x{single['seconds'] / pooled['seconds']:.1f}) | "
        f"failures {pooled['collection_failures']}, errors "
        f"{pooled['by_status']['error']}" + was(baseline, before.get("pooled"), pooled),
        flush=True,
    )
    if pooled["peak_rss_mb_by_phase"]:
        steps = pooled["peak_rss_mb_by_phase"].items()
        print("        peak RSS by step: " + ", ".join(f"{k} {mb} MB" for k, mb in steps))
    for selection in args.select:
        path = selection_profile(workdir, url, selection)
        full = run_collect(path, False, workdir, args.rtt_ms)
        planned = run_collect(path, True, workdir, args.rtt_ms)
        row["planning"][selection] = {"all_attributes": full, "planned": planned}
        print(
            f"        {selection} ({full['controls']} controls, "
            f"{full['resources']} resources): all attributes "
            f"{full['api_calls']:5d} calls {full['seconds']:6.2f}s "
            f"{full['peak_rss_mb']:4d} MB | planned {planned['api_calls']:5d} calls "
            f"{planned['seconds']:6.2f}s {planned['peak_rss_mb']:4d} MB "
            f"(calls x{planned['api_calls'] / max(full['api_calls'], 1):.2f}, "
            f"time x{planned['seconds'] / max(full['seconds'], 0.01):.2f})"
            + was(baseline, before.get("planning", {}).get(selection, {}).get("planned"), planned),
            flush=True,
        )
        if args.custodian:
            row["custodian"][selection] = compare_custodian(
                args.custodian, selection, planned["aws_controls"], path, url, workdir, args
            )
    return row


def compare_custodian(
    custodian: Path,
    selection: str,
    ids: list[str],
    path: Path,
    url: str,
    workdir: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """`assay run` and `custodian run` of one selection, side by side."""
    policies = custodian_policies(ids)
    if policies is None:
        print(f"        Custodian: no policies in {POLICIES} for the {len(ids)} controls")
        return {}
    assay = run_child(path, 8, workdir, args.rtt_ms)
    theirs = run_custodian(custodian, policies, url, workdir, args.rtt_ms)
    print(
        f"        assay run {assay['api_calls']:5d} calls {assay['seconds']:6.2f}s "
        f"{assay['peak_rss_mb']:4d} MB | Custodian ({policies.name}) "
        f"{theirs['api_calls']:5d} calls {theirs['seconds']:6.2f}s "
        f"{theirs['peak_rss_mb']:4d} MB | assay/Custodian: calls "
        f"{ratio(assay['api_calls'], theirs['api_calls'])}, time "
        f"{ratio(assay['seconds'], theirs['seconds'])}, memory "
        f"{ratio(assay['peak_rss_mb'], theirs['peak_rss_mb'])}\n"
        f"          verdicts: {verdicts(assay, theirs, ids)}",
        flush=True,
    )
    return {"policies": policies.name, "assay": assay, "custodian": theirs}


if __name__ == "__main__":
    main()
