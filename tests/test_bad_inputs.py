"""Malformed input, through the real command line: one line on stderr, exit 2, no run directory touched.

Each case runs `tunescope.tui.cli.main` in a fresh workspace that contains two
run directories, a finished one and an interrupted one, and the fixture
files of tests/bad_inputs (the binary ones are generated here). The test
snapshots every file under runs/ (path, size, modification time, content
hash) before the command and compares after it. The broken experiment files
of tests/configs/broken join the table through `tunescope run`, and a few
cases also run in a subprocess, as a user would start them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tunescope.core.config import load_experiment
from tunescope.core.events import (
    COMPLETED,
    FINISHED,
    EpochStarted,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from tunescope.core.store import Journal
from tunescope.tui.cli import main

INPUTS = Path(__file__).parent / "bad_inputs"
BROKEN = Path(__file__).parent / "configs" / "broken"


@dataclass(frozen=True)
class Case:
    """One malformed input: the command line, the expected error fragment, and how to prepare it.

    `argv` may name {finished}, {interrupted} and {inputs}, the two run
    directories and the copy of tests/bad_inputs in the workspace.
    `expected` is a regular expression searched for in the error. `setup`
    changes the workspace before the snapshot and may return an object to
    keep alive while the command runs.
    """

    id: str
    argv: tuple[str, ...]
    expected: str
    setup: Callable[[Path], object] | None = None
    subprocess: bool = False


def edit_config(run: str, old: str, new: str) -> Callable[[Path], object]:
    def setup(workspace: Path) -> None:
        config = workspace / "runs" / run / "config.toml"
        text = config.read_text()
        assert old in text
        config.write_text(text.replace(old, new))

    return setup


def write_file(relative: str, content: bytes) -> Callable[[Path], object]:
    def setup(workspace: Path) -> None:
        (workspace / relative).write_bytes(content)

    return setup


def remove_file(relative: str) -> Callable[[Path], object]:
    def setup(workspace: Path) -> None:
        (workspace / relative).unlink()

    return setup


def hold_run_lock(workspace: Path) -> object:
    handle = open(workspace / "runs" / "interrupted" / ".lock", "w")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def add_hyperparameter(workspace: Path) -> None:
    config = workspace / "runs" / "interrupted" / "config.toml"
    text = config.read_text().replace(
        "[[tuners]]", '[[space]]\nname = "dropout"\ntype = "float"\nmin = 0.0\nmax = 0.5\n\n[[tuners]]'
    )
    config.write_text(text)


def run_case(name: str, expected: str) -> Case:
    return Case(name, ("run", f"{{inputs}}/{name}.toml", "--no-tui"), expected)


CASES = [
    # The command line itself.
    Case("run_without_config", ("run",), "the following arguments are required: CONFIG"),
    Case("unknown_option", ("run", "{inputs}/good.toml", "--fast"), "unrecognized arguments: --fast"),
    Case("config_with_extra_args", ("{inputs}/good.toml", "extra"), "unexpected arguments after CONFIG: extra"),
    Case("resume_without_run_dir", ("resume",), "the following arguments are required: RUN_DIR"),
    Case("extend_zero", ("resume", "{finished}", "--extend", "0"), "argument --extend: 0 is too small"),
    Case("extend_negative", ("resume", "{finished}", "--extend", "-3"), "argument --extend: -3 is too small"),
    Case("extend_text", ("resume", "{finished}", "--extend", "many"), "'many' is not a whole number", subprocess=True),
    Case("extend_without_value", ("resume", "{finished}", "--extend"), "argument --extend: expected one argument"),
    # Experiment files.
    Case("config_missing", ("run", "{inputs}/nothing.toml", "--no-tui"), "file not found", subprocess=True),
    Case("config_is_folder", ("run", "{inputs}", "--no-tui"), "is a directory, not an experiment file"),
    Case("config_not_utf8", ("run", "{inputs}/latin1.toml", "--no-tui"), "cannot be read",
         setup=write_file("inputs/latin1.toml", b'[experiment]\nname = "caf\xe9"\n')),
    Case("config_empty", ("run", "{inputs}/empty.toml", "--no-tui"), "space: missing",
         setup=write_file("inputs/empty.toml", b"")),
    # --out must not reuse a run directory or a file.
    Case("out_is_existing_run", ("run", "{inputs}/good.toml", "--no-tui", "--out", "{finished}"),
         "already exists and is not an empty directory"),
    Case("out_is_file", ("run", "{inputs}/good.toml", "--no-tui", "--out", "{finished}/config.toml"),
         "already exists and is not an empty directory"),
    # Data sets.
    run_case("npz_not_zip", "not an npz file"),
    run_case("npz_missing_labels", "the array y_train is missing"),
    run_case("npz_nan", "contains 3 NaN or infinite values"),
    run_case("npz_fractional_labels", "contains non-integer labels"),
    run_case("npz_one_class", "the labels contain only the class 0"),
    run_case("npz_length_mismatch", "x_train has 40 samples but y_train has 39"),
    run_case("npz_object_array", r"contains Python objects \(pickled\)"),
    run_case("images_no_classes", "contains no class subfolders"),
    run_case("images_one_class", "has only the class folder 'cats'"),
    run_case("images_corrupt", "cannot be read as an image"),
    # Custom models.
    run_case("custom_missing_module", "module 'no_such_module' not found"),
    run_case("custom_missing_function", "has no attribute 'no_such_function'"),
    run_case("custom_returns_none", "returned NoneType, not a keras.Model"),
    run_case("custom_uncompiled", "returned a model that is not compiled"),
    run_case("custom_import_fails", r"importing 'failing_import' failed \(RuntimeError"),
    # Run directories.
    Case("resume_missing_dir", ("resume", "runs/nothing"), "runs/nothing: not found", subprocess=True),
    Case("resume_file", ("resume", "{finished}/config.toml"), "not a directory"),
    Case("resume_plain_folder", ("resume", "{inputs}"), "not a tunescope run directory"),
    Case("resume_finished_run", ("resume", "{finished}"), "the run is finished"),
    Case("resume_empty_journal", ("resume", "{interrupted}"), "contains no study_started record",
         setup=write_file("runs/interrupted/journal.jsonl", b"")),
    Case("resume_garbage_journal", ("resume", "{interrupted}"), r"contains no study_started record \(2 of its lines",
         setup=write_file("runs/interrupted/journal.jsonl", b"\x00\x01garbage\n{not json\n\xff\xfe\n")),
    Case("resume_without_config", ("resume", "{interrupted}"), "config.toml: not found",
         setup=remove_file("runs/interrupted/config.toml")),
    Case("resume_invalid_config", ("resume", "{interrupted}"), "invalid TOML",
         setup=write_file("runs/interrupted/config.toml", b"[experiment\n")),
    Case("resume_changed_objective", ("resume", "{interrupted}"),
         "objective.metric changed from 'val_accuracy' to 'val_loss'",
         setup=edit_config("interrupted", '[model]', '[objective]\nmetric = "val_loss"\n\n[model]')),
    Case("resume_wrong_direction", ("resume", "{interrupted}"), "'min' would search for the worst models",
         setup=edit_config("interrupted", '[model]', '[objective]\ndirection = "min"\n\n[model]')),
    Case("resume_changed_range", ("resume", "{interrupted}"), "space: num_layers.max changed from 2 to 3",
         setup=edit_config("interrupted", "max = 2", "max = 3")),
    Case("resume_added_hyperparameter", ("resume", "{interrupted}"), "hyperparameter 'dropout' was added",
         setup=add_hyperparameter),
    Case("resume_changed_tuner", ("resume", "{interrupted}"), r"the tuners changed from \['random'\] to \['bayesian'\]",
         setup=edit_config("interrupted", 'type = "random"', 'type = "bayesian"')),
    Case("resume_changed_seed", ("resume", "{interrupted}"), "experiment.seed changed from 1 to 2",
         setup=edit_config("interrupted", "seed = 1", "seed = 2")),
    Case("resume_locked_run", ("resume", "{interrupted}"), r"another tunescope process \(pid \d+\) is running",
         setup=hold_run_lock),
    Case("report_missing_dir", ("report", "runs/nothing"), "runs/nothing: not found"),
    Case("report_plain_folder", ("report", "{inputs}"), "not a tunescope run directory"),
    Case("attach_missing_dir", ("attach", "runs/nothing"), "runs/nothing: not found"),
]


def broken_config_cases() -> list[Case]:
    cases = []
    for path in sorted(BROKEN.glob("*.toml")):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# expect: "), path
        cases.append(Case(f"broken_{path.stem}", ("run", str(path), "--no-tui"), re.escape(first.removeprefix("# expect: "))))
    return cases


ALL_CASES = CASES + broken_config_cases()


# -- the workspace ------------------------------------------------------------


def make_inputs(folder: Path) -> None:
    """Copy tests/bad_inputs and write the binary fixtures its experiment files name."""
    shutil.copytree(INPUTS, folder)
    rng = np.random.default_rng(0)
    x = rng.random((40, 8)).astype(np.float32)
    y = np.arange(40) % 2
    np.savez(folder / "only_inputs.npz", x_train=x)
    x_nan = x.copy()
    x_nan[[1, 5, 9], 0] = np.nan
    np.savez(folder / "nan_inputs.npz", x_train=x_nan, y_train=y)
    np.savez(folder / "fractional_labels.npz", x_train=x, y_train=y + 0.5)
    np.savez(folder / "one_class.npz", x_train=x, y_train=np.zeros(40, dtype=np.int64))
    np.savez(folder / "length_mismatch.npz", x_train=x, y_train=y[:39])
    np.savez(folder / "object_array.npz", x_train=np.array([{"a": 1}] * 40, dtype=object), y_train=y)

    (folder / "images_empty").mkdir()
    (folder / "images_one_class" / "cats").mkdir(parents=True)
    (folder / "images_one_class" / "cats" / "a.png").write_bytes(b"")
    for name in ("cats", "dogs"):
        (folder / "images_corrupt" / name).mkdir(parents=True)
    from PIL import Image

    Image.new("L", (8, 8), 128).save(folder / "images_corrupt" / "cats" / "good.png")
    (folder / "images_corrupt" / "dogs" / "bad.png").write_bytes(b"this is not a PNG file")


def make_run(run_dir: Path, inputs: Path, finished: bool) -> None:
    """Write a run directory as `tunescope run` leaves it, from events rather than training."""
    run_dir.mkdir(parents=True)
    text = (inputs / "good.toml").read_text()
    (run_dir / "config.toml").write_text(text)
    experiment = load_experiment(inputs / "good.toml")

    events = [
        StudyStarted(
            study="good", run_dir=str(run_dir), tuners=["random"], objective="val_accuracy", direction="max",
            space=experiment.space.to_dicts(), seed=1, dataset="digits", model="dnn", config_dir=str(inputs),
        ),
        TunerStarted("random", "random", 1, 1, settings={}),
        TrialStarted("random", "0", 1, {"num_layers": 2}),
        EpochStarted("random", "0", 1, 1),
    ]
    if finished:
        events += [
            TrialFinished("random", "0", 1, COMPLETED, {"num_layers": 2}, {"val_accuracy": 0.5}, objective=0.5),
            TunerFinished("random", FINISHED, 1.5, trials_completed=1),
            StudyFinished(FINISHED, 2.0),
        ]
    journal = Journal(run_dir / "journal.jsonl")
    for event in events:
        journal(event)
    journal.close()

    (run_dir / ".lock").write_text("")
    (run_dir / "keras_tuner" / "random").mkdir(parents=True)
    (run_dir / "keras_tuner" / "random" / "oracle.json").write_text("{}")
    if finished:
        for report in ("trials.csv", "summary.csv", "summary.md"):
            (run_dir / report).write_text(f"{report}\n")


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Map every path under `folder` to its size, modification time and content hash."""
    state = {}
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(folder))] = (stat.st_size if path.is_file() else 0, stat.st_mtime_ns, digest)
    return state


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    make_inputs(tmp_path / "inputs")
    make_run(tmp_path / "runs" / "finished", tmp_path / "inputs", finished=True)
    make_run(tmp_path / "runs" / "interrupted", tmp_path / "inputs", finished=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def resolve(argv: tuple[str, ...], workspace: Path) -> list[str]:
    places = {
        "finished": str(workspace / "runs" / "finished"),
        "interrupted": str(workspace / "runs" / "interrupted"),
        "inputs": str(workspace / "inputs"),
    }
    return [arg.format(**places) for arg in argv]


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


def run_in_subprocess(argv: list[str], workspace: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tunescope.tui.cli", *argv],
        cwd=workspace, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return done.returncode, done.stderr


def test_table_has_enough_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in ALL_CASES}) == len(ALL_CASES)


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_bad_input_rejected(case: Case, workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = case.setup(workspace) if case.setup else None
    before = snapshot(workspace / "runs")
    top_level = sorted(os.listdir(workspace))
    argv = resolve(case.argv, workspace)

    if case.subprocess:
        status, stderr = run_in_subprocess(argv, workspace)
    else:
        status, stderr = run_in_process(argv, capsys)
    del kept

    lines = stderr.strip().splitlines()
    assert status == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tunescope: error: "), stderr
    assert re.search(case.expected, lines[0]), lines[0]
    assert snapshot(workspace / "runs") == before
    assert sorted(os.listdir(workspace)) == top_level


def test_locked_resume_refused_before_data_loads(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tunescope.core.data

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data set was loaded before the lock was checked")

    monkeypatch.setattr(tunescope.core.data, "load_dataset", no_loading)
    lock_file = hold_run_lock(workspace)
    status, stderr = run_in_process(["resume", str(workspace / "runs" / "interrupted")], capsys)
    lock_file.close()

    assert status == 2
    assert "another tunescope process" in stderr
