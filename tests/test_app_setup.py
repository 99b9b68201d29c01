"""The setup screen, driven with Pilot: fields checked as typed, load, save, run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from fake_engine import FakeStudy, fake_factory, run_async, settle

from tunescope.core.config import load_experiment, parse_experiment
from tunescope.core.errors import ConfigError
from tunescope.tui.app import TunescopeApp
from tunescope.tui.screens.path_prompt import PathPrompt
from tunescope.tui.screens.run import RunScreen
from tunescope.tui.screens.setup import SetupScreen
from tunescope.tui.screens.setup_fields import FIELDS
from tunescope.tui.settings import AppSettings
from textual.widgets import Input, Select, TabbedContent, TabPane

from tunescope.tui.widgets.form_row import FormRow
from tunescope.tui.widgets.space_editor import SpaceEditor
from tunescope.tui.widgets.tuner_editor import TunerEditor

QUICKSTART = Path(__file__).resolve().parents[1] / "sample_configs" / "quickstart.toml"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so the default output folder "runs" lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_app(
    config: Path | None = None, studies: list[FakeStudy] | None = None, start: bool = False, out: Path | None = None
) -> TunescopeApp:
    settings = AppSettings(study_factory=fake_factory(studies if studies is not None else []), device_probe=lambda: "FakeGPU")
    return TunescopeApp(config, settings=settings, start=start, out=out)


def setup_screen(app: TunescopeApp) -> SetupScreen:
    screen = app.screen
    assert isinstance(screen, SetupScreen)
    return screen


def loader_message(screen: SetupScreen) -> str:
    """The config loader's own message for the text the form builds."""
    with pytest.raises(ConfigError) as caught:
        parse_experiment(screen.form_text(), source="form")
    return str(caught.value)


async def checked(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until the setup screen has validated the latest edits.

    Edits queue one validation for after the next refresh, so a bare pause
    can return before it has run, and on a loaded machine even before the
    last edit's Changed message has queued it.
    """
    await pilot.pause()
    screen = pilot.app.screen
    await settle(pilot, lambda: not screen._validation_queued and screen.validated_values == screen.field_values())


async def show(pilot, tab: str) -> None:  # type: ignore[no-untyped-def]
    """Show a tab of the setup screen, composing its fields on first use."""
    await pilot.app.screen.action_show_tab(tab)
    await pilot.pause()


async def type_into(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
    await checked(pilot)


@run_async
async def test_default_form_is_valid() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        assert screen.problem is None
        assert screen.experiment is not None
        assert len(screen.experiment.tuners) == 4
        assert str(screen.query_one("#status").render()).startswith("ready: 4 tuners, 32 trials")

        on_quit = screen.query_one("#on-quit")
        on_quit.focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert app.settings.keep_running_on_quit is True


@run_async
async def test_fields_show_loader_messages() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-data")

        await type_into(pilot, "#field-dataset-train_size", "5")
        row = screen.query_one("#row-dataset-train_size", FormRow)
        assert row.has_class("-invalid")
        assert str(row.query_one(".form-note").render()) == "5 is too small; use 10 or more"
        assert loader_message(screen).endswith("dataset.train_size: 5 is too small; use 10 or more")
        assert str(screen.query_one("#status").render()) == "Train size: 5 is too small; use 10 or more"
        assert screen.experiment is None

        await type_into(pilot, "#field-dataset-train_size", "50")
        assert not row.has_class("-invalid")
        assert str(row.query_one(".form-note").render()) == "empty: every example"
        assert screen.experiment is not None
        assert screen.experiment.dataset.train_size == 50

        screen.query_one("#field-experiment-seed").value = "abc"
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.key == "experiment.seed"
        assert screen.problem.problem.startswith("expected an integer, got 'abc'")


@run_async
async def test_family_shows_its_fields() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-model")
        assert not screen.query_one("#row-model-backbone").display
        assert not screen.query_one("#row-model-function").display

        screen.query_one("#field-model-family").value = "pretrained"
        await checked(pilot)
        assert screen.query_one("#row-model-backbone").display
        assert 'backbone = "MobileNetV2"' in screen.form_text()

        screen.query_one("#field-model-family").value = "custom"
        await checked(pilot)
        assert screen.query_one("#row-model-function").display
        assert screen.problem is not None
        assert screen.problem.key == "model.function"
        assert screen.query_one("#row-model-function", FormRow).has_class("-invalid")


@run_async
async def test_space_editor_add_and_remove() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-space")
        editor = screen.query_one(SpaceEditor)
        editor.rows[0].focus_first()
        await pilot.press("ctrl+n")
        await settle(pilot, lambda: len(editor.rows) == 4)
        await checked(pilot)
        assert app.focused is editor.rows[3].controls["name"]
        assert screen.problem is not None
        assert screen.problem.key == "space[3].name"
        assert editor.has_class("-invalid")
        assert editor.rows[3].controls["name"].has_class("-invalid")

        await pilot.press("x")
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.problem == "missing; add min = ..."

        editor.rows[3].query_one(".remove").focus()
        await pilot.press("enter")
        await settle(pilot, lambda: len(editor.rows) == 3)
        await checked(pilot)
        assert screen.problem is None
        assert not editor.has_class("-invalid")


@run_async
async def test_space_editor_marks_fields() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-space")
        row = screen.query_one(SpaceEditor).rows[0]
        row.controls["min"].value = "9"
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.problem == "min 9 is greater than max 4; swap them"
        assert row.controls["min"].has_class("-invalid")
        assert not row.controls["max"].has_class("-invalid")

        row.controls["type"].value = "choice"
        row.controls["values"].value = "1, 2, 3"
        await checked(pilot)
        assert row.controls["min"].disabled
        first = tomllib.loads(screen.form_text())["space"][0]
        assert first == {"name": "num_layers", "type": "choice", "values": [1, 2, 3]}
        # The AiSara tuner of the default form tunes numeric ranges only.
        assert screen.problem is not None
        assert screen.problem.key == "tuners[3].type"
        assert "'num_layers' is a choice" in screen.problem.problem


@run_async
async def test_tuner_settings_show_problems() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-tuners")
        editor = screen.query_one(TunerEditor)
        editor.rows[2].controls["settings"].value = "facter = 3"
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.key == "tuners[2].facter"
        assert "did you mean 'factor'?" in screen.problem.problem
        assert editor.rows[2].controls["settings"].has_class("-invalid")

        editor.rows[2].controls["settings"].value = "factor 3"
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.key == "tuners[2].settings"
        assert "key = value" in str(editor.query_one(".editor-error").render())


@run_async
async def test_tuner_settings_unquoted_word() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-tuners")
        settings = screen.query_one(TunerEditor).rows[2].controls["settings"]
        settings.value = "facter = x"
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.key == "tuners[2].settings"
        assert screen.problem.message == 'Tuners, row 3, settings: facter = x: x is not a TOML value; quote text as "x"'

        settings.value = 'facter = "x"'
        await checked(pilot)
        assert screen.problem is not None
        assert screen.problem.key == "tuners[2].facter"


@run_async
async def test_executions_field_shows_default() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = setup_screen(app).query_one("#field-budget-executions_per_trial", Input)

        assert field.value == ""
        assert field.placeholder == "1"


def test_field_placeholders_match_loader() -> None:
    # A file that leaves out every key with a placeholder.
    text = """
[dataset]
name = "digits"

[model]
family = "dnn"

[[space]]
name = "num_layers"
type = "int"
min = 1
max = 4

[[tuners]]
type = "random"
"""
    experiment = parse_experiment(text, source="test")
    loaded = {
        "experiment.seed": experiment.seed,
        "experiment.output": str(experiment.output),
        "dataset.validation_split": experiment.dataset.validation_split,
        "dataset.test_split": experiment.dataset.test_split,
        "objective.metric": experiment.objective.metric,
        "budget.max_trials": experiment.tuners[0].max_trials,
        "budget.epochs": experiment.tuners[0].epochs,
        "budget.executions_per_trial": experiment.tuners[0].executions_per_trial,
        "budget.batch_size": experiment.tuners[0].batch_size,
    }
    placeholders = {spec.key: spec.placeholder for spec in FIELDS if spec.placeholder}

    assert placeholders.keys() == loaded.keys()
    for key, value in loaded.items():
        assert placeholders[key] == str(value), key


@run_async
async def test_save_then_load(in_tmp: Path) -> None:
    other = in_tmp / "o.toml"
    other.write_text(QUICKSTART.read_text(encoding="utf-8").replace('name = "quickstart"', 'name = "other"'))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: isinstance(app.screen, PathPrompt))
        app.screen.query_one("#prompt-path").value = "s.toml"
        await pilot.press("enter")
        await settle(pilot, lambda: (in_tmp / "s.toml").exists())
        assert screen.config_path == Path("s.toml")
        saved = load_experiment(in_tmp / "s.toml")
        assert screen.experiment is not None
        assert saved.space == screen.experiment.space
        assert saved.tuners == screen.experiment.tuners

        await pilot.press("ctrl+o")
        await settle(pilot, lambda: isinstance(app.screen, PathPrompt))
        app.screen.query_one("#prompt-path").value = "o.toml"
        await pilot.press("enter")
        await settle(pilot, lambda: screen.query_one("#field-experiment-name").value == "other")
        assert screen.config_path == Path("o.toml")
        assert screen.experiment is not None
        assert screen.experiment.name == "other"


@run_async
async def test_config_prefills_form(in_tmp: Path) -> None:
    broken = in_tmp / "broken.toml"
    broken.write_text("[experiment\nname = 1\n")
    typo = in_tmp / "typo.toml"
    typo.write_text(QUICKSTART.read_text(encoding="utf-8").replace("[dataset]", "[dataset]\nnmae = 3"))
    app = make_app(typo)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        assert screen.query_one("#field-experiment-name").value == "quickstart"
        assert screen.query_one("#field-budget-epochs").value == "6"
        await show(pilot, "tab-space")
        await show(pilot, "tab-tuners")
        assert len(screen.query_one(SpaceEditor).rows) == 3
        assert len(screen.query_one(TunerEditor).rows) == 4
        assert screen.experiment is not None
        assert screen.experiment.space == load_experiment(QUICKSTART).space
        assert any("dataset.nmae" in n.message for n in app._notifications)

        loaded = await screen.load_file(broken)
        await pilot.pause()
        assert not loaded
        assert screen.config_path == typo
        assert any(n.message.startswith(f"{broken}: invalid TOML") for n in app._notifications)


@run_async
async def test_run_with_invalid_form_stays() -> None:
    studies: list[FakeStudy] = []
    app = make_app(studies=studies)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await show(pilot, "tab-tuners")
        screen.query_one(TunerEditor).rows[0].controls["max_trials"].value = "0"
        await show(pilot, "tab-study")
        await checked(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen is screen
        assert studies == []
        assert screen.query_one("TabbedContent").active == "tab-tuners"
        assert app.focused is screen.query_one(TunerEditor).rows[0].controls["max_trials"]


@run_async
async def test_run_creates_run_dir(in_tmp: Path) -> None:
    studies: list[FakeStudy] = []
    app = make_app(studies=studies)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = setup_screen(app).form_text()
        await pilot.press("ctrl+r")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished is not None)
        run_dirs = list((in_tmp / "runs").iterdir())
        assert len(run_dirs) == 1
        assert (run_dirs[0] / "config.toml").read_text(encoding="utf-8") == text
        assert len(studies) == 1
        assert studies[0].experiment.name == "quickstart"


@run_async
async def test_start_flag_runs_at_once() -> None:
    studies: list[FakeStudy] = []
    app = make_app(QUICKSTART, studies=studies, start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and len(studies) == 1)
        assert studies[0].experiment.name == "quickstart"


@run_async
async def test_start_with_out_uses_that_directory(in_tmp: Path) -> None:
    studies: list[FakeStudy] = []
    app = make_app(QUICKSTART, studies=studies, start=True, out=in_tmp / "chosen")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and len(studies) == 1)
        assert (in_tmp / "chosen" / "config.toml").exists()
        assert not (in_tmp / "runs").exists()


@run_async
async def test_tab_keys_step_through_tabs() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        tabs = screen.query_one(TabbedContent)
        assert app.focused is screen.query_one("#field-experiment-name")

        steps = [
            ("ctrl+pagedown", "tab-data"),
            ("alt+right", "tab-model"),
            ("ctrl+pagedown", "tab-space"),
            ("alt+right", "tab-tuners"),
            ("ctrl+pagedown", "tab-study"),
            ("ctrl+pageup", "tab-tuners"),
            ("alt+left", "tab-space"),
        ]
        for key, tab in steps:
            await pilot.press(key)
            pane = screen.query_one(f"#{tab}", TabPane)
            await settle(pilot, lambda: tabs.active == tab and app.focused is not None and pane in app.focused.ancestors)
            assert tabs.active == tab, key
        # The last two steps started from Input fields of the editors.
        assert isinstance(app.focused, Input)


@run_async
async def test_late_pane_focus_keeps_tab() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        tabs = screen.query_one(TabbedContent)
        study = screen.query_one("#tab-study", TabPane)
        await pilot.press("ctrl+pagedown")
        data = screen.query_one("#tab-data", TabPane)
        await settle(pilot, lambda: app.focused is not None and data in app.focused.ancestors)

        # The message that focusing the name field posted, arriving only now.
        tabs.post_message(TabPane.Focused(study))
        await pilot.pause()

        assert tabs.active == "tab-data"


@run_async
async def test_number_keys_show_tabs() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        tabs = screen.query_one(TabbedContent)
        screen.query_one("#field-objective-direction", Select).focus()
        await pilot.press("4")
        await settle(pilot, lambda: isinstance(app.focused, Input) and screen.query_one("#tab-space") in app.focused.ancestors)
        assert tabs.active == "tab-space"

        # In an Input a digit is typed, not taken as a tab key.
        name = app.focused
        assert isinstance(name, Input)
        name.value = ""
        await pilot.press("2")
        await checked(pilot)
        assert name.value == "2"
        assert tabs.active == "tab-space"


@run_async
async def test_footer_shows_tab_keys() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # Footer keys and labels are private Textual classes, so they are
        # found by their CSS type names.
        keys = {key.key for key in app.screen.query("FooterKey")}
        labels = [str(label.render()) for label in app.screen.query("FooterLabel")]
        assert "ctrl+pageup" in keys
        assert "ctrl+pagedown" in keys
        assert "Tabs" in labels


@run_async
async def test_messages_name_field_labels() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)

        await type_into(pilot, "#field-budget-max_trials", "abc")
        row = screen.query_one("#row-budget-max_trials", FormRow)
        problem = "expected an integer, got 'abc' (string); write e.g. 10"
        assert str(row.query_one(".form-note").render()) == problem
        assert str(screen.query_one("#status").render()) == f"Trials per tuner: {problem}"
        # The loader's own message, as the headless run prints it, is unchanged.
        assert loader_message(screen).endswith("budget.max_trials: expected an integer, got 'abc' (string); write e.g. max_trials = 10")

        await type_into(pilot, "#field-budget-max_trials", "8")
        await show(pilot, "tab-space")
        editor = screen.query_one(SpaceEditor)
        editor.rows[0].controls["min"].value = "9"
        await checked(pilot)
        message = "Search space, row 1 (num_layers), min: min 9 is greater than max 4; swap them"
        assert str(screen.query_one("#status").render()) == message
        assert str(editor.query_one(".editor-error").render()) == message


@run_async
async def test_tabs_compose_when_first_shown() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        assert not screen.query(SpaceEditor)
        assert not screen.query("#field-dataset-name")
        text = screen.form_text()
        assert screen.experiment is not None

        for tab in ("tab-data", "tab-model", "tab-space", "tab-tuners"):
            await show(pilot, tab)
        assert len(screen.query_one(SpaceEditor).rows) == 3
        assert screen.query_one("#field-dataset-name", Select).value == "digits"
        assert screen.form_text() == text


@run_async
async def test_uncomposed_tabs_read_like_composed(in_tmp: Path) -> None:
    config = in_tmp / "odd.toml"
    config.write_text(
        QUICKSTART.read_text(encoding="utf-8")
        + '\n[[space]]\nname = "activation"\ntype = "choice"\nvalues = ["relu", "tanh"]\n'
        + '\n[[tuners]]\ntype = "hyperband"\nname = "hb2"\nmax_trials = 3\nfactor = 2\nhyperband_iterations = 2\n'
    )
    app = make_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        text = screen.form_text()
        for tab in ("tab-data", "tab-model", "tab-space", "tab-tuners"):
            await show(pilot, tab)
        assert screen.form_text() == text
        assert "hyperband_iterations = 2" in text
        assert 'values = ["relu", "tanh"]' in text


@run_async
async def test_training_settings_survive_the_form(in_tmp: Path) -> None:
    config = in_tmp / "gpu.toml"
    config.write_text(QUICKSTART.read_text(encoding="utf-8") + '\n[training]\nmixed_precision = true\njit_compile = "auto"\n')
    app = make_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        await checked(pilot)
        assert not any("left out" in n.message for n in app._notifications)
        await show(pilot, "tab-model")
        assert screen.query_one("#field-training-jit_compile", Select).value == "auto"
        await checked(pilot)
        assert screen.experiment is not None
        assert screen.experiment.training.mixed_precision is True
        assert screen.experiment.training.jit_compile == "auto"


@run_async
async def test_load_fills_uncomposed_tabs(in_tmp: Path) -> None:
    one_tuner = in_tmp / "one.toml"
    text = QUICKSTART.read_text(encoding="utf-8")
    one_tuner.write_text(text[: text.index("[[tuners]]")] + '[[tuners]]\ntype = "random"\n')
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        assert await screen.load_file(one_tuner)
        await checked(pilot)
        assert screen.experiment is not None
        assert len(screen.experiment.tuners) == 1

        await show(pilot, "tab-tuners")
        assert len(screen.query_one(TunerEditor).rows) == 1


@run_async
async def test_run_shows_problem_on_unshown_tab(in_tmp: Path) -> None:
    config = in_tmp / "small.toml"
    config.write_text(QUICKSTART.read_text(encoding="utf-8").replace("[dataset]", "[dataset]\ntrain_size = 5"))
    studies: list[FakeStudy] = []
    app = make_app(config, studies=studies)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        assert str(screen.query_one("#status").render()) == "Train size: 5 is too small; use 10 or more"

        await pilot.press("ctrl+r")
        await settle(pilot, lambda: app.focused is not None and app.focused.id == "field-dataset-train_size")
        assert screen.query_one(TabbedContent).active == "tab-data"
        assert screen.query_one("#row-dataset-train_size", FormRow).has_class("-invalid")
        assert studies == []


def test_app_start_skips_tensorflow() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from tunescope.tui.app import TunescopeApp

        async def main():
            app = TunescopeApp()
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                print(type(app.screen).__name__)
            print("tensorflow" in sys.modules, "keras" in sys.modules, "numpy" in sys.modules)

        asyncio.run(main())
        """
    )
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.split()
    assert output[0] == "SetupScreen"
    assert output[1] == "False"
    assert output[2] == "False"
    assert output[3] == "False"


@run_async
async def test_hidden_setup_stops_blinking() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = setup_screen(app)
        field = screen.query(Input).first()
        field.focus()
        await pilot.pause()
        assert field.cursor_blink is True

        app.push_screen(PathPrompt("Save as", Path("experiment.toml")))
        await pilot.pause()
        assert field.cursor_blink is False

        app.pop_screen()
        await pilot.pause()
        assert field.cursor_blink is True
