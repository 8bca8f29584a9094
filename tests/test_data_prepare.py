"""`harness data prepare`: official archives extracted safely and atomically, downloads through torchvision, and
every result read back with the harness's own reader.

The archives are small ones written here in the official formats (so they need --no-verify, or the official md5
patched to theirs); torchvision is a fake module, since the tests have no internet.
"""
from __future__ import annotations

import io
import pickle
import sys
import tarfile
import types
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import main
from harness.data import prepare
from harness.data.formats import read_part
from test_data import _write_imagenet16  # the official ImageNet16 format, written small

N = 20  # images per CIFAR batch file


def _cifar_files(dataset: str) -> dict[str, dict]:
    """The pickled dicts of a small CIFAR-10 or CIFAR-100 in the official layout, by file name."""
    rng = np.random.default_rng(0)
    if dataset == "cifar10":
        files = {name: {b"batch_label": name.encode(), b"labels": (np.arange(N) % 10).tolist(),
                        b"data": rng.integers(0, 256, (N, 3072), dtype=np.uint8),
                        b"filenames": [b"x.png"] * N}
                 for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]}
        files["batches.meta"] = {b"label_names": [b"c%d" % i for i in range(10)], b"num_cases_per_batch": N,
                                 b"num_vis": 3072}
        return files
    files = {part: {b"batch_label": part.encode(), b"fine_labels": (np.arange(n) % 100).tolist(),
                    b"coarse_labels": (np.arange(n) % 20).tolist(), b"filenames": [b"x.png"] * n,
                    b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
             for part, n in (("train", 5 * N), ("test", N))}
    files["meta"] = {b"fine_label_names": [b"f%d" % i for i in range(100)],
                     b"coarse_label_names": [b"c%d" % i for i in range(20)]}
    return files


def _add(tar: tarfile.TarFile, name: str, payload: bytes = b"", **fields) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(payload) if payload else None)


def _archive(path: Path, dataset: str, files: dict[str, dict], extra=()) -> Path:
    """A .tar.gz laid out as the official one: a top directory holding the pickles; `extra` members appended."""
    top = prepare.FAMILIES[dataset].directory
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, top, type=tarfile.DIRTYPE, mode=0o755)
        for name, entry in files.items():
            _add(tar, f"{top}/{name}", pickle.dumps(entry, protocol=2), mode=0o644)
        for name, fields in extra:
            _add(tar, name, b"evil", **fields)
    return path


@pytest.fixture
def cifar10_archive(tmp_path) -> tuple[Path, dict[str, dict]]:
    files = _cifar_files("cifar10")
    return _archive(tmp_path / "cifar-10-python.tar.gz", "cifar10", files), files


def _error_line(capsys) -> str:
    """The single line a failed command writes: `harness: error: ...`."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), lines
    return lines[0]


# ---------------------------------------------------------------- from an archive

@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_an_archive_is_extracted_and_reads_back_with_its_pixels_and_labels(dataset, tmp_path, capsys):
    files = _cifar_files(dataset)
    archive = _archive(tmp_path / prepare.ARCHIVES[dataset].name, dataset, files)
    root = tmp_path / "data"
    assert main(["data", "prepare", dataset, "--root", str(root), "--archive", str(archive), "--no-verify"]) == 0
    out = capsys.readouterr().out
    directory = root / prepare.FAMILIES[dataset].directory
    assert f"in {directory.resolve()} from {archive}" in out and "accepted by --no-verify" in out
    assert f"train: {5 * N} images in" in out and f"test:  {N} images in" in out
    assert "(the official files hold 50000)" in out  # small archives are told apart from the real ones
    assert sorted(p.name for p in root.iterdir()) == [directory.name]  # no temporary directory left
    assert sorted(p.name for p in directory.iterdir()) == sorted(files)
    key = "labels" if dataset == "cifar10" else "fine_labels"
    parts = {"train": [f"data_batch_{k}" for k in range(1, 6)], "test": ["test_batch"]} if dataset == "cifar10" \
        else {"train": ["train"], "test": ["test"]}
    for part, names in parts.items():
        images, labels = read_part(dataset, part, root)
        assert np.array_equal(images, np.concatenate([files[n][b"data"] for n in names]).reshape(-1, 3, 32, 32))
        assert labels.tolist() == sum((files[n][key.encode()] for n in names), [])


def test_the_official_md5_is_accepted_without_no_verify(cifar10_archive, tmp_path, capsys, monkeypatch):
    archive, _ = cifar10_archive
    official = prepare.ARCHIVES["cifar10"]
    monkeypatch.setitem(prepare.ARCHIVES, "cifar10", prepare.Archive(official.name, official.url,
                                                                     prepare.md5_of(archive)))
    assert main(["data", "prepare", "cifar10", "--root", str(tmp_path / "data"), "--archive", str(archive)]) == 0
    assert f"(md5 {prepare.md5_of(archive)}, the official one)" in capsys.readouterr().out


def test_an_md5_mismatch_is_refused_naming_both_digests(cifar10_archive, tmp_path, capsys):
    archive, _ = cifar10_archive
    root = tmp_path / "data"
    assert main(["data", "prepare", "cifar10", "--root", str(root), "--archive", str(archive)]) == 2
    line = _error_line(capsys)
    assert prepare.md5_of(archive) in line and "c58f30108f718f92721af3b95e74349a" in line and "--no-verify" in line
    assert not root.exists()


@pytest.mark.parametrize("member, fields, says", [
    ("../evil", {}, "outside the data root"),
    ("cifar-10-batches-py/../../evil", {}, "outside the data root"),
    ("{tmp}/evil", {}, "outside the data root"),  # an absolute path
    ("cifar-10-batches-py/evil", {"type": tarfile.SYMTYPE, "linkname": "{tmp}/evil"}, "is a link"),
    ("cifar-10-batches-py/evil", {"type": tarfile.LNKTYPE, "linkname": "../evil"}, "is a link"),
])
def test_members_that_could_escape_the_root_are_refused_before_anything_is_written(member, fields, says, tmp_path,
                                                                                    capsys):
    fields = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in fields.items()}
    archive = _archive(tmp_path / "evil.tar.gz", "cifar10", _cifar_files("cifar10"),
                       extra=[(member.format(tmp=tmp_path), fields)])
    root = tmp_path / "data"
    assert main(["data", "prepare", "cifar10", "--root", str(root), "--archive", str(archive), "--no-verify"]) == 2
    assert says in _error_line(capsys)
    assert not root.exists() and not (tmp_path / "evil").exists()


def _failing_after_two_members(monkeypatch, exc: BaseException) -> None:
    extract, calls = tarfile.TarFile.extract, []

    def failing(self, member, *args, **kwargs):
        calls.append(member)
        if len(calls) > 2:
            raise exc
        return extract(self, member, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", failing)


def test_a_failed_extraction_leaves_neither_the_directory_nor_a_temporary_one(cifar10_archive, tmp_path, capsys,
                                                                               monkeypatch):
    archive, _ = cifar10_archive
    root = tmp_path / "data"
    _failing_after_two_members(monkeypatch, OSError(28, "No space left on device"))
    assert main(["data", "prepare", "cifar10", "--root", str(root), "--archive", str(archive), "--no-verify"]) == 2
    assert "No space left on device" in _error_line(capsys)
    assert list(root.iterdir()) == []


def test_an_interrupted_extraction_leaves_nothing_either(cifar10_archive, tmp_path, monkeypatch):
    archive, _ = cifar10_archive
    root = tmp_path / "data"
    _failing_after_two_members(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        prepare.prepare("cifar10", root, archive, verify=False)
    assert list(root.iterdir()) == []


def test_an_archive_without_the_dataset_directory_is_refused(tmp_path, capsys):
    archive = _archive(tmp_path / "other.tar.gz", "cifar100", _cifar_files("cifar100"))
    root = tmp_path / "data"
    assert main(["data", "prepare", "cifar10", "--root", str(root), "--archive", str(archive), "--no-verify"]) == 2
    assert "holds cifar-100-python at its top, expected a cifar-10-batches-py/ directory" in _error_line(capsys)
    assert list(root.iterdir()) == []


def test_a_second_prepare_says_already_prepared_and_force_replaces(cifar10_archive, tmp_path, capsys):
    archive, _ = cifar10_archive
    root = tmp_path / "data"
    argv = ["data", "prepare", "cifar10", "--root", str(root), "--archive", str(archive), "--no-verify"]
    assert main(argv) == 0
    (root / "cifar-10-batches-py" / "marker").write_text("kept unless --force")
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("CIFAR-10 already prepared in") and "--force" in out and f"train: {5 * N} images" in out
    assert (root / "cifar-10-batches-py" / "marker").is_file()
    assert main(argv + ["--force"]) == 0
    assert capsys.readouterr().out.startswith("prepared CIFAR-10")
    assert not (root / "cifar-10-batches-py" / "marker").exists()
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py"]


def test_an_incomplete_directory_already_there_is_not_taken_for_prepared(cifar10_archive, tmp_path, capsys):
    archive, _ = cifar10_archive
    (tmp_path / "data" / "cifar-10-batches-py").mkdir(parents=True)
    argv = ["data", "prepare", "cifar10", "--root", str(tmp_path / "data"), "--archive", str(archive), "--no-verify"]
    assert main(argv) == 2
    line = _error_line(capsys)
    assert "exists but is not a complete CIFAR-10" in line and "data_batch_1" in line and "--force" in line
    assert main(argv + ["--force"]) == 0


def test_bad_names_are_refused_and_the_root_defaults_to_the_data_directory(cifar10_archive, tmp_path, capsys,
                                                                           monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "cifar1000", "--root", str(tmp_path)])
    assert exit_info.value.code == 2 and "invalid choice: 'cifar1000'" in capsys.readouterr().err
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "user"))  # no --root: the data directory's images/
    assert main(["data", "prepare", "cifar10", "--archive", str(cifar10_archive[0]), "--no-verify"]) == 0
    assert (tmp_path / "user" / "images" / "cifar-10-batches-py" / "data_batch_1").is_file()
    capsys.readouterr()
    assert main(["data", "prepare", "cifar10", "--root", str(tmp_path / "d"), "--archive", str(tmp_path / "no")]) == 2
    assert f"archive {tmp_path / 'no'} is not a file" in _error_line(capsys)


# ---------------------------------------------------------------- downloads through torchvision

def _fake_torchvision(monkeypatch, download_url) -> None:
    utils = types.ModuleType("torchvision.datasets.utils")
    utils.download_url = download_url
    datasets = types.ModuleType("torchvision.datasets")
    datasets.utils = utils
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets
    for module in (torchvision, datasets, utils):
        monkeypatch.setitem(sys.modules, module.__name__, module)


def test_without_an_archive_torchvision_downloads_the_official_one(tmp_path, capsys, monkeypatch):
    files, calls = _cifar_files("cifar100"), []

    def download_url(url, root, filename=None, md5=None):
        calls.append((url, root, filename, md5))
        _archive(Path(root) / filename, "cifar100", files)

    _fake_torchvision(monkeypatch, download_url)
    root = tmp_path / "data"
    assert main(["data", "prepare", "cifar100", "--root", str(root)]) == 0
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", str(root),
                      "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")]
    out = capsys.readouterr().out
    assert f"prepared CIFAR-100 in {(root / 'cifar-100-python').resolve()}" in out
    assert f"train: {5 * N} images in 100 classes" in out
    assert len(read_part("cifar100", "test", root)[1]) == N


def test_a_failed_download_is_one_line_naming_the_url(tmp_path, capsys, monkeypatch):
    def download_url(url, root, filename=None, md5=None):
        raise urllib.error.URLError("Name or service not known")

    _fake_torchvision(monkeypatch, download_url)
    assert main(["data", "prepare", "cifar10", "--root", str(tmp_path / "data")]) == 2
    line = _error_line(capsys)
    assert "could not download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in line
    assert "--archive" in line


def test_without_torchvision_the_error_says_to_install_the_extra_or_pass_an_archive(tmp_path, capsys, monkeypatch):
    for name in ("torchvision", "torchvision.datasets", "torchvision.datasets.utils"):
        monkeypatch.setitem(sys.modules, name, None)  # an import of any of them now fails
    assert main(["data", "prepare", "cifar10", "--root", str(tmp_path / "data")]) == 2
    line = _error_line(capsys)
    assert "pip install 'nb201-harness[torchvision]'" in line and "--archive PATH" in line


# ---------------------------------------------------------------- ImageNet16-120: only checked

def test_imagenet16_says_where_to_get_it_and_checks_a_root_holding_it(tmp_path, capsys):
    assert main(["data", "prepare", "ImageNet16-120"]) == 0
    out = capsys.readouterr().out
    assert "https://github.com/D-X-Y/NAS-Bench-201" in out and "DIR/ImageNet16/" in out
    _write_imagenet16(tmp_path, n_val=60)  # 3 of each train batch's 5 images, and 60 val images, in classes 1..120
    assert main(["data", "prepare", "ImageNet16-120", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"reads from {(tmp_path / 'ImageNet16').resolve()}" in out and "labels 1..120 of 1000 kept" in out
    assert "train: 30 images in 11 classes (the official files hold 151700)" in out
    assert "test:  60 images in" in out


def test_imagenet16_missing_files_or_archive_options_are_refused(tmp_path, capsys):
    (tmp_path / "ImageNet16").mkdir()
    assert main(["data", "prepare", "ImageNet16-120", "--root", str(tmp_path)]) == 2
    assert "missing train_data_batch_1" in _error_line(capsys)
    assert main(["data", "prepare", "ImageNet16-120", "--root", str(tmp_path), "--archive", "x.tar"]) == 2
    assert "--archive does not apply to ImageNet16-120" in _error_line(capsys)
