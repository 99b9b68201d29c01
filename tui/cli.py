"""The `tunescope` command line.

    tunescope [CONFIG]                      open the app, prefilled from CONFIG
    tunescope run CONFIG --no-tui [--out PATH]
    tunescope report RUN_DIR
    tunescope attach RUN_DIR

Input mistakes print one line on stderr and exit with status 2; nothing is
written before the experiment file and the data have been checked.
TensorFlow is imported only once a study starts, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from tunescope.core import __version__
from tunescope.core.errors import StudyFailed, TunescopeError

logger = logging.getLogger("tunescope")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

COMMANDS = ("run", "report", "attach")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"tunescope: error: {message}; see `tunescope --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tunescope",
        description="Tune Keras models with several hyperparameter tuners under one budget, "
        "watch them search, and compare them.",
        epilog="Run `tunescope COMMAND --help` for a command's options. "
        "Without a command, tunescope opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"tunescope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="run the experiment in CONFIG", description="Run the experiment in CONFIG.")
    run.add_argument("config", type=Path, metavar="CONFIG", help="experiment file (TOML)")
    run.add_argument("--no-tui", action="store_true", help="run headless: a live table on a terminal, plain lines otherwise")
    run.add_argument("--out", type=Path, metavar="PATH", help="put the run directory at PATH (must not exist, or be empty)")

    report = commands.add_parser(
        "report", help="rebuild the reports of a run from its journal", description="Rebuild trials.csv, summary.csv and summary.md from RUN_DIR's journal."
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")

    attach = commands.add_parser(
        "attach", help="watch a run that another tunescope process is executing", description="Open the app on RUN_DIR: live while the run goes on, results once it is finished."
    )
    attach.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tunescope` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()

    # `tunescope CONFIG` opens the app prefilled; argparse cannot mix an
    # optional positional with subcommands, so that form is read here.
    app_config: Path | None = None
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        if len(argv) > 1:
            parser.error(f"unexpected arguments after CONFIG: {' '.join(argv[1:])}")
        app_config = Path(argv[0])
        argv = []

    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "run":
            return _run(args.config, headless=args.no_tui, out=args.out)
        if args.command == "report":
            return _report(args.run_dir)
        if args.command == "attach":
            return _open_app(None, args.run_dir)
        return _open_app(app_config, None)
    except TunescopeError as error:
        print(f"tunescope: error: {error}", file=sys.stderr)
        return error.exit_status


def _configure_logging(verbose: bool) -> None:
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def _report(run_dir_path: Path) -> int:
    from tunescope.core.report import collect, write_reports
    from tunescope.core.store import open_run_dir, read_journal

    from .headless import HeadlessView

    run_dir = open_run_dir(run_dir_path)
    events = read_journal(run_dir.journal)
    written = write_reports(run_dir, events)
    view = HeadlessView(live=False)
    view.show_summary(collect(events), written)
    return EXIT_OK


def _open_app(config: Path | None, run_dir: Path | None) -> int:
    from tunescope.core.config import load_experiment
    from tunescope.core.store import open_run_dir

    if config is not None:
        load_experiment(config)
    if run_dir is not None:
        open_run_dir(run_dir)
    from .app import run_app

    return run_app(config, run_dir) or EXIT_OK


def _run(config_path: Path, headless: bool, out: Path | None) -> int:
    from tunescope.core.config import load_experiment

    experiment = load_experiment(config_path)
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TunescopeError(f"--out {out}: already exists and is not an empty directory; choose a new path")
    if not headless and sys.stdout.isatty():
        from .app import run_app

        return run_app(config_path, None, start=True) or EXIT_OK
    return _run_headless(experiment, out)


def _run_headless(experiment, out: Path | None) -> int:  # type: ignore[no-untyped-def]
    from tunescope.core.data import load_dataset
    from tunescope.core.report import collect, write_reports
    from tunescope.core.store import Journal, create_run_dir, read_journal
    from tunescope.core.study import Study, check_model, import_tensorflow

    from .headless import HeadlessView

    view = HeadlessView()
    handler = view.logging_handler()
    logger.addHandler(handler)
    try:
        # Data and model are checked before the run directory exists, so a
        # bad data file or model function writes nothing.
        import_tensorflow()
        dataset = load_dataset(experiment.dataset, seed=experiment.seed)
        check_model(experiment, dataset)

        run_dir = create_run_dir(experiment.name, experiment.text, experiment.output, out)
        logger.info("run directory: %s", run_dir.path)
        journal = Journal(run_dir.journal)
        study = Study(experiment, run_dir, sinks=[journal, view], dataset=dataset)
        with view:
            outcome = _run_in_thread(study)
        journal.close()

        events = read_journal(run_dir.journal)
        written = write_reports(run_dir, events)
        view.show_summary(collect(events), written)
    finally:
        logger.removeHandler(handler)

    if outcome is not None:
        raise outcome
    return EXIT_INTERRUPTED if study.cancelled else EXIT_OK


def _run_in_thread(study) -> BaseException | None:  # type: ignore[no-untyped-def]
    """Run the study in a worker thread; Ctrl-C asks it to stop cleanly.

    The first Ctrl-C (or SIGTERM) stops the study after the current epoch;
    a second one exits at once, losing only the trial in progress, since the
    journal is flushed after every event. SIGHUP, as when an SSH session
    drops, is ignored: the view stops writing if its terminal is gone, and
    the study goes on.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            study.run()
        except BaseException as error:  # handed to the main thread
            failure.append(error)

    worker = threading.Thread(target=target, name="tunescope-study", daemon=True)
    previous_term = signal.signal(signal.SIGTERM, lambda *_: study.cancel())
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN) if hasattr(signal, "SIGHUP") else None
    worker.start()
    try:
        while worker.is_alive():
            try:
                worker.join(timeout=0.2)
            except KeyboardInterrupt:
                if study.cancelled:
                    logger.warning("stopping now; the trial in progress is lost")
                    raise SystemExit(EXIT_INTERRUPTED) from None
                logger.warning("stopping after the current epoch; press Ctrl-C again to stop at once")
                study.cancel()
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if previous_hup is not None:
            signal.signal(signal.SIGHUP, previous_hup)

    if not failure:
        return None
    error = failure[0]
    if isinstance(error, TunescopeError):
        return error
    logger.error("the study failed: %s: %s", type(error).__name__, error, exc_info=error)
    return StudyFailed(f"the study failed: {type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
