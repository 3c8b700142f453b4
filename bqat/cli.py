"""The `bqat` command line. Verbs that run flows go through bqat.runner, on use."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from bqat.exceptions import BqatError, InputError


def _print_rows(rows: list[dict[str, object]], as_json: bool, empty: str | None = None) -> None:
    """Rows as aligned columns, or as one JSON array with --json; `empty` says there are none."""
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        if empty:
            print(empty)
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())


def _models_list(args: argparse.Namespace) -> int:
    from bqat.models import MODELS

    rows = [
        {
            "name": spec.name,
            "file": spec.file,
            "bytes": spec.size,
            "licence": spec.licence,
            "sha256": spec.sha256 if args.json else spec.sha256[:12],
            "upstream": spec.upstream
            or ("(converted: bqat models build)" if spec.built_from else "(see `source`)"),
            **({"source": spec.source} if args.json else {}),
        }
        for spec in MODELS.values()
    ]
    _print_rows(rows, args.json)
    return 0


def _model_row(name: str, status: str, path: object, detail: str) -> dict[str, str]:
    """One model's line in `bqat models verify|pull|build`."""
    return {"name": name, "status": status, "path": str(path or ""), "detail": detail}


def _models_verify(args: argparse.Namespace) -> int:
    from bqat.models import MODELS, verify

    results = [verify(spec) for spec in MODELS.values()]
    _print_rows([_model_row(r.spec.name, r.status, r.path, r.detail) for r in results], args.json)
    return 0 if all(r.status == "ok" for r in results) else 1


def _models_pull(args: argparse.Namespace) -> int:
    """Per model: `present` (already verified), `downloaded` (from its upstream, verified),
    `unavailable` (no upstream: how to obtain it) or `failed` (the download or its check)."""
    from bqat.models import MODELS
    from bqat.models.fetch import pull, shared_archives

    rows, failed = [], False
    with shared_archives():
        for spec in MODELS.values():
            try:
                done = pull(spec)
            except BqatError as exc:
                failed = True
                status = "failed" if spec.upstream else "unavailable"
                rows.append(_model_row(spec.name, status, None, str(exc)))
            else:
                detail = f"from {done.source}" if done.action == "downloaded" else "sha256 matches"
                rows.append(_model_row(spec.name, done.action, done.path, detail))
    _print_rows(rows, args.json)
    return 1 if failed else 0


def _models_build(args: argparse.Namespace) -> int:
    """Per converted model: `present` (already verified), `built` (converted and checked) or
    `failed` (why). The converter environment is made once, only when something is missing."""
    from bqat.models import MODELS, verify
    from bqat.models.build import CONVERTER, build, converter_environment
    from bqat.models.fetch import shared_archives

    converted = [spec for spec in MODELS.values() if spec.built_from is not None]
    rows = {}
    for spec in converted:
        found = verify(spec)
        if found.status == "ok":
            rows[spec.name] = _model_row(spec.name, "present", found.path, found.detail)
    pending = [spec for spec in converted if spec.name not in rows]
    if pending:
        print(
            f"bqat: installing {' '.join(CONVERTER)} into a throw-away environment "
            f"to convert {', '.join(spec.name for spec in pending)}",
            file=sys.stderr,
            flush=True,
        )
        try:
            with converter_environment() as python, shared_archives():
                for spec in pending:
                    try:
                        done = build(spec, python)
                    except BqatError as exc:
                        rows[spec.name] = _model_row(spec.name, "failed", None, str(exc))
                    else:
                        rows[spec.name] = _model_row(spec.name, done.action, done.path, done.detail)
        except BqatError as exc:
            for spec in pending:
                rows.setdefault(spec.name, _model_row(spec.name, "failed", None, str(exc)))
    table = [rows[spec.name] for spec in converted]
    _print_rows(table, args.json)
    return 1 if any(row["status"] == "failed" for row in table) else 0


def _assess(args: argparse.Namespace) -> int:
    """One JSON record per line on stdout; a failing file goes to stderr and the rest go on."""
    from bqat.assessment import assess

    options = dict(args.option or [])
    failed = 0
    for path in args.files:
        try:
            record = assess(path, args.modality, **options)
        except InputError as exc:
            failed += 1
            print(f"bqat: {path}: {exc}", file=sys.stderr)
            continue
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


def _scan(args: argparse.Namespace) -> int:
    """Run the scan-dataset flow with a progress bar on stderr; print the dataset id and summary."""
    import threading
    import uuid
    from dataclasses import asdict

    from bqat.progress import read_progress
    from bqat.runner import scan

    options = dict(args.option or [])
    if args.pattern:
        options["pattern"] = args.pattern
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    key = f"cli-{uuid.uuid4().hex}"
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["summary"] = scan(
                args.folder,
                args.modality,
                dataset_id=args.dataset,
                progress_key=key,
                **options,
            )
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.5)
        progress = read_progress(key)
        if progress is not None and sys.stderr.isatty():
            print(
                f"\r{_bar(progress.done, progress.total)} failed {progress.failed}",
                end="",
                file=sys.stderr,
                flush=True,
            )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if "error" in outcome:
        raise outcome["error"]
    summary = outcome["summary"]
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        print(summary.dataset_id)
        _print_rows([{k: v for k, v in asdict(summary).items() if k != "dataset_id"}], False)
    return 0


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else width * done // total
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _option(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{key}: {value!r} is not a number") from None


def _preprocess(args: argparse.Namespace) -> int:
    """Run the preprocess-folder flow; print the counts, then each failed input and why."""
    from dataclasses import asdict

    from bqat.runner import preprocess

    summary = preprocess(
        args.folder,
        args.to,
        modality=args.scan,
        dataset_id=args.dataset,
        **dict(args.option or []),
    )
    if args.json:
        print(json.dumps(asdict(summary)))
        return 0
    print(
        f"{summary.written} of {summary.total} inputs written to {summary.output}"
        + (f" ({summary.kept} of them by an interrupted run before)" if summary.kept else "")
        + f", {summary.failed} failed"
        + (f"; scanned into {summary.dataset_id}" if summary.dataset_id else "")
    )
    _print_rows([asdict(error) for error in summary.errors], False)
    return 0


def _setting(text: str) -> tuple[str, int | float | str]:
    """KEY=VALUE, the value an integer or a number when it reads as one, else text."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            continue
    return key, value


def _drift(args: argparse.Namespace) -> int:
    """Run the compare-drift flow; write the HTML to -o; print the per-column tests."""
    import shutil

    from bqat.report_files import drift_paths
    from bqat.runner import compare_drift
    from bqat.store import Store

    store = Store()  # unknown datasets and snapshots are refused before a flow run starts
    store.dataset(args.dataset)
    summary = compare_drift(args.dataset, store.pin(args.reference), args.column or None)
    if args.output:  # stored under the reference's snapshot id when it named a time
        shutil.copyfile(drift_paths(args.dataset, summary["reference_id"])[0], args.output)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    verdict = "drifted" if summary["drifted"] else "no drift"
    print(
        f"{args.dataset} against {summary['reference_id']}: {verdict}, "
        f"{summary['share_drifted']:.0%}"
    )
    _print_rows(
        [
            {
                "column": name,
                "method": c["method"],
                "score": f"{c['score']:.4g}",
                "drifted": c["drifted"],
            }
            for name, c in summary["columns"].items()
        ],
        False,
    )
    return 0


def _outliers(args: argparse.Namespace) -> int:
    """Run the detect-outliers flow; print the outliers by rank (or everything with --json)."""
    from bqat.runner import detect_outliers

    result = detect_outliers(args.dataset, args.detector, args.column or None, args.contamination)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{args.dataset}: {len(result['outliers'])} outliers ({result['detector']}) among "
        f"{result['rows']} rows; {len(result['excluded'])} rows excluded for missing values"
    )
    if result["note"]:
        print(result["note"])
    _print_rows(
        [
            {"rank": o["rank"], "file": o["file"], "score": f"{o['score']:.4g}"}
            for o in result["outliers"]
        ],
        False,
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    """Run the build-report flow; copy the HTML to -o; print where it is."""
    import shutil

    from bqat.runner import build_report

    stored = build_report(args.dataset)
    if args.output:
        shutil.copyfile(stored, args.output)
    print(args.output or stored)
    return 0


def _verdicts(args: argparse.Namespace) -> int:
    """Each stored row's verdict under a quality profile, or only those of one verdict."""
    from bqat.store import Store
    from bqat.verdicts import verdict_rows

    table, profile = verdict_rows(Store(), args.dataset, profile=args.profile, verdict=args.verdict)
    columns = ["file", "verdict", "failed_components", "unknown_components"]
    rows = table.select(columns).to_pylist()
    if not args.json:
        rows = [{**r, **{c: " ".join(r[c]) or "-" for c in columns[2:]}} for r in rows]
    if not rows and not args.json:
        which = f"{args.verdict} " if args.verdict else ""
        print(f"no {which}samples under profile {profile.name}")
        return 0
    _print_rows(rows, args.json)
    return 0


def _duplicates(args: argparse.Namespace) -> int:
    from bqat.duplicates import DEFAULT_MAX_DISTANCE, find_duplicates

    chosen = args.max_distance
    groups = find_duplicates(args.dataset, DEFAULT_MAX_DISTANCE if chosen is None else chosen)
    rows = [g.to_json() for g in groups]
    if not args.json:
        rows = [{**row, "files": " ".join(row["files"])} for row in rows]
    _print_rows(rows, args.json, empty="no duplicate groups")
    return 0


def _audit_schedule(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from bqat.runner import schedule_audit

    options = dict(args.option or [])
    scheduled = schedule_audit(
        Path(args.folder), args.modality, args.cron, args.name, args.timezone, options
    )
    if args.json:
        print(json.dumps(asdict(scheduled)))
    else:
        print(
            f"scheduled {scheduled.deployment} ({scheduled.cron}, {scheduled.timezone}) "
            f"for {scheduled.folder}; a worker of pool 'bqat' runs it (`bqat serve` starts one)"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from bqat.imports import import_results

    summary = import_results(args.file, args.modality, args.dataset, args.source)
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        print(
            f"imported {summary.rows} rows of {summary.source} results into {summary.dataset_id}: "
            f"{len(summary.mapped)} columns mapped to ours, {len(summary.extra)} kept as extra "
            f"columns{': ' + ', '.join(summary.extra) if summary.extra else ''}"
        )
    return 0


def _history(args: argparse.Namespace) -> int:
    from bqat.scanning import history

    _print_rows(history(args.dataset), args.json)
    return 0


def _datasets_list(args: argparse.Namespace) -> int:
    from bqat.store import Store

    rows = [{**vars(info), "created": info.created.isoformat()} for info in Store().datasets()]
    _print_rows(rows, args.json)
    return 0


def _inputs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bqat.ingest import inventory
    from bqat.settings import get_settings

    folder = Path(args.folder) if args.folder else get_settings().data_root[0]
    found = inventory(folder)
    rows = [{"folder": name, **files} for name, files in found.folders.items()]
    rows.append({"folder": f"(all of {folder})", **found.files})
    _print_rows(rows, args.json)
    return 0


def _datasets_delete(args: argparse.Namespace) -> int:
    from bqat.runner import delete_dataset

    artifacts = delete_dataset(args.dataset)
    print(
        f"deleted {args.dataset}: its rows, errors, reports, uploads and past snapshots, "
        f"and {artifacts} Prefect artifacts that summarised it"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from bqat.serve import serve
    from bqat.terminal import taking_the_terminal

    with taking_the_terminal() if args.take_terminal else nullcontext():
        return serve()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bqat", description="Biometric quality assessment: measure, store, audit samples."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    models = verbs.add_parser("models", help="list, verify, download or build the model files")
    model_verbs = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("list", _models_list, "the registered models"),
        ("verify", _models_verify, "find each file and check its sha256"),
        ("pull", _models_pull, "download the files that have an upstream into the cache"),
        (
            "build",
            _models_build,
            "convert the MediaPipe models again from their published TFLite files (needs the "
            "package index; checks outputs against TFLite) into the cache",
        ),
    ):
        action = model_verbs.add_parser(name, help=text)
        action.add_argument("--json", action="store_true", help="print JSON instead of a table")
        action.set_defaults(handler=handler)

    assess = verbs.add_parser("assess", help="measure samples; one JSON record per line")
    assess.add_argument("--modality", required=True, help="face, fingerprint, iris or speech")
    assess.add_argument(
        "--option",
        action="append",
        type=_option,
        metavar="KEY=VALUE",
        help="an engine option, e.g. confidence=0.7 or yaw_threshold=8 (repeatable)",
    )
    assess.add_argument("files", nargs="+", metavar="FILE")
    assess.set_defaults(handler=_assess)

    scan = verbs.add_parser("scan", help="scan a folder into a dataset (a Prefect flow run)")
    scan.add_argument("--modality", required=True, help="face, fingerprint, iris or speech")
    scan.add_argument("--dataset", help="dataset id to add to (default: a new one)")
    scan.add_argument("--pattern", help="regular expression on the path relative to FOLDER")
    scan.add_argument(
        "--batch-size",
        type=int,
        help="most files per assessment task (default: about four tasks per thread, 16 to 256 "
        "files each; batches are evened out over the threads)",
    )
    scan.add_argument("--option", action="append", type=_option, metavar="KEY=VALUE")
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")
    scan.add_argument("folder", metavar="FOLDER")
    scan.set_defaults(handler=_scan)

    prep = verbs.add_parser(
        "preprocess", help="convert a folder's images or recordings into a new folder"
    )
    prep.add_argument("folder", metavar="DIR")
    prep.add_argument("--to", metavar="OUT", help="a new folder (default: DIR-prep-<8 hex>)")
    prep.add_argument(
        "--option",
        action="append",
        type=_setting,
        metavar="KEY=VALUE",
        help="mode, resize_width, scale, format, quality, bitrate (wsq), sample_rate, channels or "
        "pattern, e.g. format=png or scale=0.5 (repeatable)",
    )
    prep.add_argument("--scan", metavar="MODALITY", help="then scan OUT into a dataset")
    prep.add_argument("--dataset", help="with --scan: the dataset id (default: a new one)")
    prep.add_argument("--json", action="store_true", help="print the summary as JSON")
    prep.set_defaults(handler=_preprocess)

    drift = verbs.add_parser("drift", help="data drift of a dataset against a reference one")
    drift.add_argument("dataset", metavar="DATASET")
    drift.add_argument(
        "--reference",
        required=True,
        metavar="OTHER",
        help="reference dataset, or OTHER@SNAPSHOT / OTHER@ISO-TIME for it as it was then",
    )
    drift.add_argument("--column", action="append", help="compare this column (repeatable)")
    drift.add_argument("-o", "--output", metavar="HTML", help="write the Evidently report here")
    drift.add_argument("--json", action="store_true", help="print the summary as JSON")
    drift.set_defaults(handler=_drift)

    outliers = verbs.add_parser("outliers", help="detect outlying samples of a dataset")
    outliers.add_argument("dataset", metavar="DATASET")
    outliers.add_argument(
        "--detector", default="ECOD", help="ECOD, IForest, COPOD, KNN, PCA or CBLOF"
    )
    outliers.add_argument("--column", action="append", help="use this column (repeatable)")
    outliers.add_argument("--contamination", type=float, default=0.05, help="share flagged (0.05)")
    outliers.add_argument("--json", action="store_true", help="print the result as JSON")
    outliers.set_defaults(handler=_outliers)

    report = verbs.add_parser("report", help="build the HTML quality report of a dataset")
    report.add_argument("dataset", metavar="DATASET")
    report.add_argument("-o", "--output", metavar="HTML", help="copy the report here")
    report.set_defaults(handler=_report)

    verdicts = verbs.add_parser(
        "verdicts", help="each sample's verdict (pass, fail, unknown) under a quality profile"
    )
    verdicts.add_argument("dataset", metavar="DATASET")
    verdicts.add_argument(
        "--profile", help="quality profile (default: the modality's; GET /quality-profiles)"
    )
    verdicts.add_argument(
        "--verdict", choices=("pass", "fail", "unknown"), help="only samples with this verdict"
    )
    verdicts.add_argument("--json", action="store_true", help="print the rows as JSON")
    verdicts.set_defaults(handler=_verdicts)

    duplicates = verbs.add_parser("duplicates", help="exact and near-duplicate samples")
    duplicates.add_argument("dataset", metavar="DATASET")
    duplicates.add_argument(
        "--max-distance", type=int, help="near duplicates differ in at most this many phash bits"
    )
    duplicates.add_argument("--json", action="store_true", help="print the groups as JSON")
    duplicates.set_defaults(handler=_duplicates)

    audit = verbs.add_parser("audit", help="scheduled audits of a folder")
    audit_verbs = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    schedule = audit_verbs.add_parser(
        "schedule", help="rescan FOLDER on a cron schedule and report drift against the last"
    )
    schedule.add_argument("folder", metavar="FOLDER")
    schedule.add_argument("--modality", required=True, help="face, fingerprint, iris or speech")
    schedule.add_argument("--cron", required=True, help='cron expression, e.g. "0 2 * * 1"')
    schedule.add_argument("--timezone", default="UTC", help="time zone of the cron (UTC)")
    schedule.add_argument("--name", help="audit name (default: the folder's name)")
    schedule.add_argument("--option", action="append", type=_option, metavar="KEY=VALUE")
    schedule.add_argument("--json", action="store_true", help="print the deployment as JSON")
    schedule.set_defaults(handler=_audit_schedule)

    imports = verbs.add_parser(
        "import", help="a dataset from another tool's results (bqat CSV/Parquet, OFIQ, NFIQ 2)"
    )
    imports.add_argument("file", metavar="FILE", help="CSV or Parquet")
    imports.add_argument("--modality", required=True, help="face, fingerprint, iris or speech")
    imports.add_argument("--dataset", help="dataset id to create (default: a new one)")
    imports.add_argument("--source", help="bqat, ofiq or nfiq2 (default: sniffed from the header)")
    imports.add_argument("--json", action="store_true", help="print the summary as JSON")
    imports.set_defaults(handler=_import)

    history = verbs.add_parser("history", help="the snapshots of a dataset (read with as_of)")
    history.add_argument("dataset")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=_history)

    inputs = verbs.add_parser(
        "inputs", help="the samples per modality a scan of FOLDER and its sub-folders would find"
    )
    inputs.add_argument("folder", nargs="?", help="default: the first data root")
    inputs.add_argument("--json", action="store_true", help="print JSON")
    inputs.set_defaults(handler=_inputs)

    datasets = verbs.add_parser("datasets", help="list or delete datasets")
    dataset_verbs = datasets.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = dataset_verbs.add_parser("list", help="every dataset with its row counts")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_datasets_list)
    deleting = dataset_verbs.add_parser(
        "delete", help="delete a dataset: no data file or catalog row keeps its values"
    )
    deleting.add_argument("dataset")
    deleting.set_defaults(handler=_datasets_delete)

    serve = verbs.add_parser(
        "serve", help="start the HTTP API, the local Prefect server and a flow worker"
    )
    serve.add_argument(
        "--take-terminal",
        action="store_true",
        help="take Ctrl-C from the terminal for serve alone, so that a parent such as "
        "`make serve` sees serve's clean exit instead of being interrupted itself",
    )
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bqat` console script; exit code 0 only on success."""
    args = build_parser().parse_args(argv)
    try:
        from bqat.settings import get_settings

        get_settings()  # a bad or unknown BQAT_* variable stops every verb before it starts
        from bqat.store import check_layout

        check_layout(get_settings().home / "store")  # a store of the old layout is refused
        return int(args.handler(args))
    except BqatError as exc:
        print(f"bqat: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
