"""The `tunescope` command line.

    tunescope [CONFIG]                      open the app, prefilled from CONFIG
    tunescope run CONFIG --no-tui [--out PATH]
    tunescope resume RUN_DIR [--extend N]
    tunescope report RUN_DIR
    tunescope attach RUN_DIR

Input mistakes print one line on stderr and exit with status 2; nothing is
written before the experiment file and the data have been checked.
TensorFlow is imported only once a study starts, so `--help` is instant.
A headless run ignores SIGHUP and survives losing its terminal or its
standard output, so a dropped SSH session does not end it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from tunescope.core import __version__
from tunescope.core.errors import StudyFailed, TunescopeError

logger = logging.getLogger("tunescope")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

COMMANDS = ("run", "resume", "report", "attach", "bench")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, point at the right help page, and exit with status 2.

    Abbreviated options are refused: `--no-tu` in a script should fail now,
    not change meaning when another option starting the same way is added.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"tunescope: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tunescope",
        usage="tunescope [-h] [--version] [-v] [CONFIG | COMMAND ...]",
        description="Tune Keras models with several hyperparameter tuners under one budget, "
        "watch them search, and compare them.",
        epilog="Run `tunescope COMMAND --help` for a command's options. "
        "Without a command, tunescope opens the app; `tunescope CONFIG` opens it with the "
        "forms filled from the experiment file CONFIG.",
    )
    parser.add_argument("--version", action="version", version=f"tunescope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog="tunescope")

    run = commands.add_parser("run", help="run the experiment in CONFIG", description="Run the experiment in CONFIG.")
    run.add_argument("config", type=Path, metavar="CONFIG", help="experiment file (TOML)")
    run.add_argument("--no-tui", action="store_true", help="run headless: a live table on a terminal, plain lines otherwise")
    run.add_argument("--out", type=Path, metavar="PATH", help="put the run directory at PATH (must not exist, or be empty)")

    resume = commands.add_parser(
        "resume",
        help="continue a run whose process ended before it finished",
        description="Continue the run in RUN_DIR after its process ended (killed, crashed, or stopped with Ctrl-C). "
        "Finished trials and tuners are kept; the trial that was running is run again. "
        "A finished run continues only with --extend.",
    )
    resume.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    resume.add_argument(
        "--extend", type=_trial_count, default=0, metavar="N", help="raise every tuner's max_trials by N trials, then continue"
    )

    report = commands.add_parser(
        "report", help="rebuild the reports of a run from its journal", description="Rebuild trials.csv, summary.csv and summary.md from RUN_DIR's journal."
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")

    attach = commands.add_parser(
        "attach", help="watch a run that another tunescope process is executing", description="Open the app on RUN_DIR: live while the run goes on, results once it is finished."
    )
    attach.add_argument("run_dir", type=Path, metavar="RUN_DIR")

    from .bench_command import add_bench_parser

    add_bench_parser(commands)
    return parser


def _trial_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of trials, such as 5") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; give 1 or more trials")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tunescope` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()

    # `tunescope CONFIG` opens the app prefilled; argparse cannot mix an
    # optional positional with subcommands, so that form is read here.
    app_config: Path | None = None
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        near = get_close_matches(argv[0], COMMANDS, n=1)
        if near and not Path(argv[0]).exists():
            parser.error(f"unknown command {argv[0]!r} (did you mean {near[0]!r}?)")
        if len(argv) > 1:
            parser.error(f"unexpected arguments after CONFIG: {' '.join(argv[1:])}")
        app_config = Path(argv[0])
        argv = []

    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "run":
            return _run(args.config, headless=args.no_tui, out=args.out)
        if args.command == "resume":
            return _resume(args.run_dir, args.extend)
        if args.command == "report":
            return _report(args.run_dir)
        if args.command == "bench":
            from .bench_command import run_bench

            return run_bench(args)
        if args.command == "attach":
            return _open_app(None, args.run_dir)
        return _open_app(app_config, None)
    except TunescopeError as error:
        _print_error(f"tunescope: error: {error}")
        return error.exit_status
    except KeyboardInterrupt:
        # Ctrl-C before the study started (while TensorFlow imports, say):
        # nothing was written yet.
        _print_error("tunescope: interrupted before the study started; nothing was written")
        return EXIT_INTERRUPTED
    finally:
        _release_broken_stdout()


def _print_error(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        # The terminal is gone; the exit status still reports the error.
        pass


def _release_broken_stdout() -> None:
    """Point a standard output whose reader is gone at /dev/null.

    Otherwise Python's final flush of the data left in its buffer fails
    once more at exit, prints "Exception ignored ... BrokenPipeError" and
    turns the exit status into 120.
    """
    stream = sys.__stdout__
    if stream is None or stream is not sys.stdout:
        return
    try:
        stream.flush()
    except (OSError, ValueError):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def _configure_logging(verbose: bool) -> None:
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)

    # Libraries warn through `warnings` (scikit-learn's ConvergenceWarning
    # from Bayesian optimisation's Gaussian process, Keras' data warnings),
    # which would print over the live view. They go to the log, shown with
    # --verbose only.
    logging.captureWarnings(True)
    library_warnings = logging.getLogger("py.warnings")
    library_warnings.propagate = False
    library_warnings.handlers = [logging.StreamHandler()] if verbose else [logging.NullHandler()]


def _report(run_dir_path: Path) -> int:
    from tunescope.core.errors import RunDirError
    from tunescope.core.events import StudyStarted
    from tunescope.core.report import collect, write_reports
    from tunescope.core.store import open_run_dir, read_journal

    from .headless import HeadlessView

    run_dir = open_run_dir(run_dir_path)
    events = read_journal(run_dir.journal)
    if not any(isinstance(event, StudyStarted) for event in events):
        raise RunDirError(
            f"{run_dir.journal}: contains no study_started event, so it is not the journal of a tunescope run; "
            "pass the folder that `tunescope run` created"
        )
    try:
        report = collect(events)
        written = write_reports(run_dir, events)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        # A hand-edited or damaged journal: fields of the wrong type.
        raise RunDirError(
            f"{run_dir.journal}: a record has an invalid value ({type(error).__name__}: {error}); "
            "restore the journal from the run, or remove the damaged lines"
        ) from None
    HeadlessView(live=False).show_summary(report, written)
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

        return run_app(config_path, None, start=True, out=out) or EXIT_OK
    return _run_headless(experiment, out)


def _resume(run_dir_path: Path, extend: int) -> int:
    from tunescope.core.resume import plan_resume

    from tunescope.core.store import RunLock

    # Everything about the run is checked before anything is written.
    plan = plan_resume(run_dir_path, extend)
    # Reject a run that another process is executing before loading the data,
    # which takes seconds. The lock is taken again, for good, after loading.
    probe = RunLock(plan.run_dir)
    probe.acquire()
    probe.release()
    return _run_headless(plan.experiment, None, plan)


def _run_headless(experiment, out: Path | None, plan=None) -> int:  # type: ignore[no-untyped-def]
    """Run a study with the headless view: a new run, or with `plan` (a `ResumePlan`) an old one."""
    from tunescope.core.data import load_dataset
    from tunescope.core.report import collect, write_reports
    from tunescope.core.resume import plan_resume
    from tunescope.core.store import Journal, RunLock, create_run_dir, read_journal
    from tunescope.core.study import Study, check_model, import_tensorflow

    from .headless import HeadlessView
    from .worker import run_cancellable

    # Ignored from the start, not only while the study runs: a terminal that
    # hangs up while the data loads must not end the run either.
    previous_hangup = _ignore_hangup()
    view = HeadlessView()
    handler = view.logging_handler()
    logger.addHandler(handler)
    try:
        # Data and model are checked before the run directory exists, so a
        # bad data file or model function writes nothing.
        import_tensorflow()
        dataset = load_dataset(experiment.dataset, seed=experiment.seed)
        check_model(experiment, dataset)

        run_dir = plan.run_dir if plan is not None else create_run_dir(experiment.name, experiment.text, experiment.output, out)
        lock = RunLock(run_dir)
        lock.acquire()
        try:
            if plan is not None:
                # Planned again under the lock: a process that held it until
                # now may have added to the journal since the first plan.
                plan = plan_resume(run_dir.path, plan.extend)
                experiment = plan.experiment
            logger.info("run directory: %s", run_dir.path)
            if plan is not None:
                view.replay(read_journal(run_dir.journal))
            journal = Journal(run_dir.journal)
            study = Study(experiment, run_dir, sinks=[journal, view], dataset=dataset, resume=plan)
            view.start()
            try:
                outcome = run_cancellable(study)
            finally:
                # The run's log file stays open for the reports' log lines;
                # closing `handler` below closes it.
                view.stop(close_log=False)
            journal.close()

            events = read_journal(run_dir.journal)
            written = write_reports(run_dir, events)
            report = collect(events)
            view.show_summary(report, written)
        finally:
            lock.release()
    finally:
        logger.removeHandler(handler)
        handler.close()
        _restore_hangup(previous_hangup)

    if outcome is not None:
        raise outcome
    if study.cancelled:
        return EXIT_INTERRUPTED
    if report.trials and not any(trial.status == "completed" for trial in report.trials):
        # A script or CI job must see that nothing was learned.
        raise StudyFailed(f"no trial completed; the reasons are in {run_dir.path / 'trials.csv'}")
    return EXIT_OK


def _ignore_hangup() -> object:
    """Ignore SIGHUP and return the handler it had, or None where that cannot be done."""
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _restore_hangup(previous: object) -> None:
    if previous is not None:
        signal.signal(signal.SIGHUP, previous)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
