"""The `airflow-automl` command."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from airflow_automl.local.config import ServiceConfig

SECRET_ENV_VAR = "AIRFLOW_AUTOML_SECRET_ACCESS_KEY"
ACCESS_KEY_ENV_VAR = "AIRFLOW_AUTOML_ACCESS_KEY_ID"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _existing_dir(text: str) -> Path:
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory")
    return path


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-automl", description="SageMaker AutoML for Apache Airflow.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the local SageMaker-compatible AutoML service",
        description="Run the local SageMaker-compatible AutoML service. Point any SageMaker client "
        "at it with endpoint_url; it is ready when GET /health answers 200.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (default: %(default)s)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".automl"),
        help="where jobs, candidates, tags and models are kept (default: %(default)s)",
    )
    serve.add_argument(
        "--file-root",
        type=_existing_dir,
        action="append",
        default=[],
        metavar="DIR",
        help="allow file:// URIs under DIR (repeatable); file:// is refused without one",
    )
    serve.add_argument(
        "--s3-endpoint-url", metavar="URL", help="send s3:// traffic to this S3-compatible endpoint (default: AWS)"
    )
    serve.add_argument(
        "--region",
        default="us-east-1",
        help="region in job ARNs and in the credential scope signed requests must name (default: %(default)s)",
    )
    serve.add_argument("--account-id", default="123456789012", help="account in job ARNs (default: %(default)s)")
    serve.add_argument(
        "--max-concurrent-jobs",
        type=_positive_int,
        default=2,
        help="jobs training at once; others wait (default: %(default)s)",
    )
    serve.add_argument(
        "--max-active-jobs",
        type=_positive_int,
        default=50,
        help="jobs InProgress or Stopping before CreateAutoMLJob answers ResourceLimitExceeded (default: %(default)s)",
    )
    serve.add_argument(
        "--stop-grace-seconds",
        type=float,
        default=10.0,
        help="time a job gets to honour StopAutoMLJob before its worker is killed (default: %(default)s)",
    )
    serve.add_argument(
        "--capture-flush-seconds",
        type=float,
        default=2.0,
        help="seconds between writes of endpoint data capture files; what is left is written at shutdown "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--access-key-id",
        metavar="ID",
        default=os.environ.get(ACCESS_KEY_ENV_VAR),
        help="with --secret-access-key: accept only requests signed (SigV4) with these "
        f"credentials (or set {ACCESS_KEY_ENV_VAR}); without them any credentials are accepted, "
        "and only a loopback --host is allowed",
    )
    serve.add_argument(
        "--secret-access-key",
        metavar="SECRET",
        default=os.environ.get(SECRET_ENV_VAR),
        help=f"the secret of --access-key-id (or set {SECRET_ENV_VAR}, which keeps it out of the process list)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    return parser


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from airflow_automl.local.api.app import create_app

    if len(args.account_id) != 12 or not args.account_id.isdigit():
        raise SystemExit(f"--account-id {args.account_id!r}: must be 12 digits, as in AWS ARNs")
    if bool(args.access_key_id) != bool(args.secret_access_key):
        raise SystemExit("--access-key-id and --secret-access-key: give both to require signed requests, or neither")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServiceConfig(
        data_dir=args.data_dir.expanduser().resolve(),
        host=args.host,
        port=args.port,
        file_roots=tuple(args.file_root),
        s3_endpoint_url=args.s3_endpoint_url,
        region=args.region,
        account_id=args.account_id,
        max_concurrent_jobs=args.max_concurrent_jobs,
        max_active_jobs=args.max_active_jobs,
        stop_grace_seconds=args.stop_grace_seconds,
        capture_flush_seconds=args.capture_flush_seconds,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
    )
    if not config.access_key_id and not _is_loopback(args.host):
        # Unsigned access from the network would let anyone create jobs that read data under
        # --file-root and write where they like.
        print(
            f"airflow-automl serve: --host {args.host} is not a loopback address: give --access-key-id and "
            f"--secret-access-key (or {ACCESS_KEY_ENV_VAR} and {SECRET_ENV_VAR}) so that only signed requests "
            "are accepted, "
            "or listen on 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    try:
        app = create_app(config)
    except RuntimeError as error:
        print(f"airflow-automl serve: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
