"""Multi-seed benches: statistics, time-to-target and the study's table by value, and one tiny real bench."""

from __future__ import annotations

import argparse
import math
import textwrap
from pathlib import Path

import pytest

from tunescope.core.bench import (
    BENCH_MD,
    SEEDS_CSV,
    Bench,
    BenchResult,
    budget_notes,
    SeedResult,
    collect_bench,
    describe,
    paired_test,
    rotated_tuners,
    seed_config_text,
    seeds_frame,
    study_table,
    summarise,
    paired_tests_table,
    time_to_target,
    trial_progress,
    with_budget,
    with_tuners,
    write_bench_reports,
)
from tunescope.core.config import parse_experiment
from tunescope.core.errors import RunDirError, TunescopeError
from tunescope.core.events import COMPLETED, FAILED, FINISHED, STOPPED, TrialFinished, TunerStarted
from tunescope.tui.bench_command import add_bench_parser, run_bench


def experiment_text(tuners: str = '[[tuners]]\ntype = "random"\n') -> str:
    return textwrap.dedent(
        """
        [experiment]
        name = "bench-test"
        seed = 7
        [dataset]
        name = "digits"
        train_size = 150
        test_size = 60
        [model]
        family = "dnn"
        [budget]
        max_trials = 2
        epochs = 1
        batch_size = 32
        [[space]]
        name = "num_layers"
        type = "int"
        min = 1
        max = 2
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-3
        max = 1e-2
        """
    ) + tuners


def seed_result(seed: int, tuner: str, test_accuracy: float, seconds: float, params: int, **changes) -> SeedResult:
    fields = {
        "seed": seed,
        "tuner": tuner,
        "tuner_type": "random",
        "status": FINISHED,
        "best_objective": test_accuracy,
        "test_accuracy": test_accuracy,
        "search_seconds": seconds,
        "trainable_params": params,
        "trials_completed": 4,
        "trials_failed": 0,
        "explainability": "trial table",
        "progress": ((seconds / 2, test_accuracy - 0.05), (seconds, test_accuracy)),
    }
    fields.update(changes)
    return SeedResult(**fields)


def bench_result(results: list[SeedResult], model: str = "dnn") -> BenchResult:
    return BenchResult(
        name="hand-made",
        model=model,
        dataset="digits",
        objective="val_accuracy",
        direction="max",
        tuners=["random", "aisara"],
        seeds=[1, 2, 3],
        results=results,
        device="CPU",
    )


def hand_made() -> BenchResult:
    # aisara beats random by 2, 3 and 2 points of accuracy: differences whose
    # paired t statistic is exactly -7 with 2 degrees of freedom.
    return bench_result(
        [
            seed_result(1, "random", 0.90, 40.0, 1000),
            seed_result(2, "random", 0.91, 50.0, 3000),
            seed_result(3, "random", 0.93, 60.0, 2000),
            seed_result(1, "aisara", 0.92, 30.0, 800, tuner_type="aisara", explainability="trial table + rounds"),
            seed_result(2, "aisara", 0.94, 30.0, 900, tuner_type="aisara", explainability="trial table + rounds"),
            seed_result(3, "aisara", 0.95, 36.0, 1000, tuner_type="aisara", explainability="trial table + rounds"),
        ]
    )


# -- statistics ------------------------------------------------------------------


def test_describe_mean_and_sample_std() -> None:
    statistic = describe([0.90, 0.92, 0.94])
    assert statistic.mean == pytest.approx(0.92)
    assert statistic.std == pytest.approx(0.02)
    assert statistic.n == 3


def test_describe_skips_missing_values() -> None:
    statistic = describe([None, 5.0, float("nan")])
    assert statistic.mean == 5.0
    assert statistic.std is None
    assert statistic.n == 1


def test_describe_empty_has_no_mean() -> None:
    assert describe([]).mean is None
    assert describe([]).n == 0


def test_paired_t_test_by_value() -> None:
    test = paired_test({1: 0.90, 2: 0.91, 3: 0.93}, {1: 0.92, 2: 0.94, 3: 0.95}, "aisara", "t")
    # t = -7 with 2 degrees of freedom, whose two-sided p-value is 1 - 7 / sqrt(51).
    assert test.p_value == pytest.approx(1 - 7 / math.sqrt(51))
    assert test.difference == pytest.approx(-0.07 / 3)
    assert test.n == 3
    assert test.against == "aisara"


def test_paired_wilcoxon_smallest_p_with_five_pairs() -> None:
    test = paired_test({s: 0.0 for s in range(5)}, {s: 1.0 + s for s in range(5)}, "best", "wilcoxon")
    assert test.p_value == pytest.approx(0.0625)
    assert test.n == 5


def test_paired_test_pairs_only_shared_seeds() -> None:
    test = paired_test({1: 1.0, 2: 2.0, 3: None}, {2: 1.0, 3: 5.0, 4: 1.0}, "best")
    assert test.n == 1
    assert test.difference == 1.0
    assert test.p_value is None


def test_paired_test_identical_values_p_one() -> None:
    assert paired_test({1: 3.0, 2: 4.0}, {1: 3.0, 2: 4.0}, "best").p_value == 1.0


def test_paired_t_test_constant_difference_no_p() -> None:
    test = paired_test({1: 0.5, 2: 0.7}, {1: 0.6, 2: 0.8}, "best", "t")
    assert test.p_value is None
    assert test.difference == pytest.approx(-0.1)


def test_paired_test_unknown_method_raises() -> None:
    with pytest.raises(ValueError, match="unknown paired test"):
        paired_test({1: 1.0}, {1: 1.0}, "best", "anova")


# -- time to target ------------------------------------------------------------------


def test_time_to_target_first_trial_reaching_it() -> None:
    progress = ((10.0, 0.80), (25.0, 0.95), (40.0, 0.97))
    assert time_to_target(progress, 0.95) == 25.0
    assert time_to_target(progress, 0.96) == 40.0


def test_time_to_target_never_reached_is_none() -> None:
    assert time_to_target(((10.0, 0.80),), 0.99) is None


def test_time_to_target_minimising() -> None:
    assert time_to_target(((5.0, 0.9), (9.0, 0.3), (12.0, 0.2)), 0.3, direction="min") == 9.0


def test_trial_progress_completed_trials_in_order() -> None:
    started = TunerStarted(tuner="random", tuner_type="random", max_trials=3, epochs=1, time=100.0)

    def trial(trial_id: str, status: str, objective: float | None, at: float) -> TrialFinished:
        return TrialFinished("random", trial_id, int(trial_id), status, {}, objective=objective, time=at)

    trials = [trial("2", COMPLETED, 0.9, 130.0), trial("1", COMPLETED, 0.7, 110.0), trial("3", FAILED, None, 120.0)]
    assert trial_progress(started, trials) == ((10.0, 0.7), (30.0, 0.9))


# -- summary and tables ----------------------------------------------------------------


def test_summarise_picks_best_per_measure() -> None:
    summary = summarise(hand_made())
    assert summary.best["test_accuracy"] == "aisara"
    assert summary.best["search_seconds"] == "aisara"
    assert summary.best["trainable_params"] == "aisara"


def test_summarise_tests_against_best() -> None:
    summary = summarise(hand_made())
    test = summary.tests["test_accuracy"]["random"]
    assert test.against == "aisara"
    assert test.p_value == pytest.approx(1 - 7 / math.sqrt(51))
    assert "aisara" not in summary.tests["test_accuracy"]


def test_summarise_leaves_out_unfinished_runs() -> None:
    result = hand_made()
    result.results[0] = seed_result(1, "random", 0.10, 5.0, 10, status=STOPPED)
    summary = summarise(result)
    assert summary.statistics["test_accuracy"]["random"].n == 2
    assert summary.statistics["test_accuracy"]["random"].mean == pytest.approx(0.92)


def test_summarise_time_to_target() -> None:
    # Each hand-made run reaches its own best accuracy at its search time.
    summary = summarise(hand_made(), target=0.935)
    assert summary.reached["aisara"] == (2, 3)
    assert summary.time_to_target["aisara"].mean == pytest.approx(33.0)
    assert summary.reached["random"] == (0, 3)


def test_study_table_cells() -> None:
    table = study_table([("dnn", summarise(hand_made(), target=0.935))]).set_index("measure")
    assert list(table.columns) == ["dnn random", "dnn aisara"]
    assert table.loc["accuracy (test)", "dnn random"] == "91.33 ± 1.53%"
    assert table.loc["search time", "dnn random"] == "50.0s ± 10.0s"
    assert table.loc["cost and complexity (trainable parameters)", "dnn random"] == "2,000 ± 1,000"
    assert table.loc["explainability", "dnn aisara"] == "trial table + rounds"
    assert table.loc["time to target", "dnn aisara"] == "33.0s ± 4.2s (2 / 3 reached)"
    assert table.loc["time to target", "dnn random"] == "not reached (0 / 3)"
    assert table.loc["seeds finished", "dnn aisara"] == "3 / 3"
    assert table.loc["trials completed / failed (all seeds)", "dnn random"] == "12 / 0"


def test_study_table_without_target_drops_row() -> None:
    table = study_table([("dnn", summarise(hand_made()))])
    assert "time to target" not in list(table["measure"])


def test_study_table_columns_per_model_kind() -> None:
    table = study_table([("dnn", summarise(hand_made())), ("cnn", summarise(bench_result(hand_made().results, "cnn")))])
    assert list(table.columns) == ["measure", "dnn random", "dnn aisara", "cnn random", "cnn aisara"]


def test_paired_tests_table_cells() -> None:
    table = paired_tests_table([("dnn", summarise(hand_made()))]).set_index("measure")
    assert table.loc["accuracy (test)", "dnn aisara"] == "best"
    assert table.loc["accuracy (test)", "dnn random"] == "-2.33 pp, p = 0.020, n = 3"
    assert table.loc["search time", "dnn random"] == "+18.0 s, p = 0.050, n = 3"
    assert table.loc["cost and complexity (trainable parameters)", "dnn random"] == "+1,100, p = 0.184, n = 3"


def test_seeds_frame_rows_in_seed_order() -> None:
    frame = seeds_frame(hand_made(), target=0.935)
    assert list(frame["seed"]) == [1, 1, 2, 2, 3, 3]
    assert list(frame["tuner"][:2]) == ["random", "aisara"]
    assert frame["time_to_target"].isna().sum() == 4


# -- experiment changes ----------------------------------------------------------------


def test_with_budget_sets_every_tuner() -> None:
    experiment = parse_experiment(experiment_text('[[tuners]]\ntype = "random"\n[[tuners]]\ntype = "hyperband"\nmax_trials = 9\n'))
    changed = with_budget(experiment, max_trials=3, epochs=4)
    assert [(t.max_trials, t.epochs) for t in changed.tuners] == [(3, 4), (3, 4)]


def test_budget_notes_aisara_rounds_below_trials() -> None:
    text = experiment_text('[[tuners]]\ntype = "random"\n[[tuners]]\ntype = "aisara"\ntrials_per_round = 2\nrounds = 3\nmax_trials = 8\n')
    notes = budget_notes(parse_experiment(text))
    assert any("2 trials x 3 rounds = 6 trials" in note for note in notes)
    assert any("budgets differ" in note for note in notes)


def test_budget_notes_equal_budgets_empty() -> None:
    assert budget_notes(parse_experiment(experiment_text())) == []


def test_with_tuners_unknown_name_raises() -> None:
    experiment = parse_experiment(experiment_text())
    with pytest.raises(TunescopeError, match="unknown tuner 'bayesian'"):
        with_tuners(experiment, ["bayesian"])


def test_rotated_tuners_start_with_index() -> None:
    experiment = parse_experiment(
        experiment_text('[[tuners]]\ntype = "random"\n[[tuners]]\ntype = "hyperband"\n[[tuners]]\ntype = "bayesian"\n')
    )
    assert [t.name for t in rotated_tuners(experiment.tuners, 4)] == ["hyperband", "bayesian", "random"]


def test_bench_rejects_unfinished_seed(tmp_path: Path) -> None:
    experiment = parse_experiment(experiment_text())
    seed_dir = tmp_path / "seed-7"
    seed_dir.mkdir()
    (seed_dir / "config.toml").write_text(seed_config_text(experiment, 7, experiment.tuners), encoding="utf-8")
    (seed_dir / "journal.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(RunDirError, match="contains an unfinished run of seed 7"):
        Bench(experiment, [7], tmp_path).run()


def test_bench_rejects_other_experiment(tmp_path: Path) -> None:
    experiment = parse_experiment(experiment_text())
    seed_dir = tmp_path / "seed-7"
    seed_dir.mkdir()
    (seed_dir / "config.toml").write_text("[experiment]\n", encoding="utf-8")
    with pytest.raises(RunDirError, match="another experiment"):
        Bench(experiment, [7], tmp_path).run()


# -- command -----------------------------------------------------------------------


def parse_bench(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tunescope")
    add_bench_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def test_bench_parser_defaults() -> None:
    args = parse_bench(["exp.toml"])
    assert args.seeds == 5
    assert args.test == "t"
    assert args.target is None


def test_bench_parser_rejects_zero_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_bench(["exp.toml", "--seeds", "0"])
    assert exit_info.value.code == 2
    assert "use 1 or more" in capsys.readouterr().err


def test_run_bench_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_bench(parse_bench([str(tmp_path / "missing.toml")]))
    assert status == 2
    assert "file not found" in capsys.readouterr().err


# -- a real bench ------------------------------------------------------------------


@pytest.mark.slow
def test_tiny_bench_runs_and_resumes(tmp_path: Path) -> None:
    experiment = parse_experiment(experiment_text(), source="bench.toml", base_dir=tmp_path)
    bench_dir = tmp_path / "bench"
    result = Bench(experiment, [7, 8], bench_dir).run()

    assert result.seeds == [7, 8]
    assert result.tuners == ["random"]
    assert [r.status for r in result.results] == [FINISHED, FINISHED]
    assert all(r.trials_completed == 2 for r in result.results)
    assert (bench_dir / "seed-8" / "summary.md").is_file()

    written = write_bench_reports(bench_dir, result, target=0.0)
    assert [path.name for path in written] == [SEEDS_CSV, BENCH_MD]
    assert "| accuracy (test)" in (bench_dir / BENCH_MD).read_text(encoding="utf-8")
    assert summarise(result, target=0.0).reached["random"] == (2, 2)

    again = Bench(experiment, [7, 8], bench_dir).run()
    assert [r.search_seconds for r in again.results] == [r.search_seconds for r in result.results]
    assert collect_bench(bench_dir).seeds == [7, 8]
