"""`harness oracle ...` from the command line: output on real data, and errors as messages, not tracebacks."""
import shutil
import subprocess

import pytest

from harness.cli.main import main


@pytest.fixture(autouse=True)
def elsewhere(tmp_path, monkeypatch):
    """The commands run from a directory that is not the checkout: nothing may depend on where they run."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def cache(table_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "oracle.parquet"
    assert main(["oracle", "import", str(table_csv), "--out", str(out), "--benchmark-version", "NAS-Bench-201 v1_1",
                 "--quiet"]) == 0
    return out


def test_import_and_info(cache, capsys):
    assert main(["oracle", "info", "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "benchmark: NAS-Bench-201 v1_1" in out and "15625 of 15625 have values" in out
    assert "cifar10-valid  x-valid 200 mean only final (199)" in out


def test_query_by_index_and_by_string(cache, capsys):
    assert main(["oracle", "query", "6111", "--cache", str(cache), "--dataset", "cifar10"]) == 0
    out = capsys.readouterr().out
    assert "index 6111" in out and "94.3733" in out and "88.7900" in out and "params_mb@cifar10" in out
    arch = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert main(["oracle", "query", arch, "--cache", str(cache), "--split", "ori-test", "--hp", "200"]) == 0
    out = capsys.readouterr().out
    assert "index 0 " in out and "85.8633" in out and "81.5200" in out


def test_top(cache, capsys):
    assert main(["oracle", "top", "--cache", str(cache), "--dataset", "cifar100", "--split", "x-test", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("top 3 of cifar100/x-test@200 accuracy")
    assert lines[2].split()[:3] == ["1", "9930", "73.5133"] and len(lines) == 5


@pytest.mark.parametrize("argv, fragment", [
    (["oracle", "top", "--dataset", "cifar10", "--split", "valid"], "has no validation split"),
    (["oracle", "query", "15625"], "out of range"),
    (["oracle", "query", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "bad op 'conv'"),
    (["oracle", "query", "5", "--dataset", "cifar100", "--split", "x-test", "--seed", "777"], "seed 777"),
])
def test_errors_are_one_message_and_exit_2(cache, capsys, argv, fragment):
    assert main(argv + ["--cache", str(cache)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error:") and fragment in err and "Traceback" not in err


def test_missing_cache_says_how_to_import(tmp_path, capsys):
    assert main(["oracle", "info", "--cache", str(tmp_path / "none.parquet")]) == 2
    assert "harness oracle import" in capsys.readouterr().err


def test_import_help_warns_about_unpickling(capsys):
    with pytest.raises(SystemExit):
        main(["oracle", "import", "--help"])
    assert "only files you trust" in capsys.readouterr().out.replace("\n", " ").replace("  ", " ")


def test_console_script_is_installed():
    exe = shutil.which("harness")
    assert exe, "the `harness` console script is not on PATH; install the package (pip install -e .)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("nb201-harness ")


def _command_lines(parser, prefix=()):
    """Every command line the parser knows, as argv prefixes: each group, subcommand and sub-subcommand."""
    import argparse

    yield list(prefix)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_lines(sub, (*prefix, name))


def test_every_command_has_a_help_that_prints(capsys):
    from harness.cli.main import build_parser

    commands = list(_command_lines(build_parser()))
    assert ["check"] in commands and ["search"] in commands and ["shrink", "abs"] in commands and len(commands) > 15
    for argv in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--help"])
        assert exit_.value.code == 0, argv
        assert "usage: harness" in capsys.readouterr().out, argv


@pytest.mark.parametrize("argv, fragment", [
    (["evaluate", "--dataset", "cifar10", "--split", "ori-test", "--n-boot", "-5"],
     "argument --n-boot: -5 is not a positive integer"),
    (["search", "random", "--runs", "0"], "argument --runs: 0 is not a positive integer"),
    (["search", "random", "--seed", "-1"], "argument --seed: -1 is negative"),
    (["check", "x.csv", "--baseline", "b.json", "--tolerance", "-0.1"], "argument --tolerance: '-0.1' is not a finite"),
    (["train", "supernet", "--out", "r", "--samples", "1.5"], "argument --samples: '1.5' is not a share in (0, 1]"),
    (["shrink", "abs", "--signal", "truth", "--out", "o", "--stages", "0"], "argument --stages: 0 is not a positive"),
    (["oracle", "top", "--dataset", "cifar10", "--split", "ori-test", "-k", "ten"], "argument -k: 'ten' is not an int"),
])
def test_numbers_out_of_range_are_refused_before_any_work(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and fragment in capsys.readouterr().err
