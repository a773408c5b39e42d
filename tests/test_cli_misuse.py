"""The command line used wrongly: each mistake is one ``qusi-lab: error: ...`` line and exit code 2.

No traceback for a problem the user can fix (a wrong folder layout, an unwritable output, a typo
in an option, a corrupt bundle, nothing but unreadable files); ``QUSI_LAB_DEBUG=1`` shows it anyway.
And files that could not be used are named, not just counted (``RUN/problems.csv``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from qusi_lab.cli import main

TRAIN = ["--max-steps", "2", "--batch-size", "4", "--input-length", "64", "--validation-every", "1", "--quiet"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 synthetic stars as DATA/{train,validation,test}/{positive,negative}: 18 / 3 / 3 curves."""
    from qusi_lab import synthetic

    result = synthetic.make_sector(tmp_path_factory.mktemp("data"), n_stars=24, seed=1, experiment=True)
    assert result.experiment_directory is not None
    return result.experiment_directory


@pytest.fixture(scope="module")
def run(experiment: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--data", str(experiment), "--out", str(out), "--num-workers", "0", *TRAIN]) == 0
    return out


def _copy(experiment: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(experiment, tmp_path / "DATA"))


def _spoil(files: list[Path]) -> None:
    for file in files:
        file.write_bytes(b"not a light curve\n")


# ----------------------------------------------------------------------------- the table of mistakes


@dataclass
class Case:
    """A mistake: ``argv(tmp_path, experiment, run, monkeypatch)`` and what its error line must say."""

    argv: Callable[[Path, Path, Path, pytest.MonkeyPatch], list[str]]
    says: list[str] = field(default_factory=list)
    needs_run: bool = False


def _mismatched_classes(tmp, experiment, run, monkeypatch):
    data = _copy(experiment, tmp)
    (data / "validation" / "positive").rename(data / "validation" / "planet")
    return ["train", "--data", str(data), "--out", str(tmp / "r"), "--balance", "natural", "--num-workers", "0",
            *TRAIN]


def _one_class(tmp, experiment, run, monkeypatch):
    data = _copy(experiment, tmp)
    for split in ("train", "validation", "test"):
        shutil.rmtree(data / split / "negative")
    return ["train", "--data", str(data), "--out", str(tmp / "r"), "--num-workers", "0", *TRAIN]


def _out_under_a_file(tmp, experiment, run, monkeypatch):
    (tmp / "notes.txt").write_text("a file, not a folder")
    return ["train", "--data", str(experiment), "--out", str(tmp / "notes.txt" / "run"), "--num-workers", "0",
            *TRAIN]


def _read_only_folder(tmp, experiment, run, monkeypatch):
    # Tests run as root, where chmod does not stop writing: the file system answers like a read-only mount.
    readonly = tmp / "readonly"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if (mode & os.W_OK and Path(path).resolve() == readonly) else real_access(path, mode, **kw)))
    return ["train", "--data", str(experiment), "--out", str(readonly / "run"), "--num-workers", "0", *TRAIN]


def _write_fails(code: int, message: str, with_name: bool) -> Callable[..., list[str]]:
    """``synthetic --out`` where creating the folder fails with ``code`` (EROFS, EACCES, ENOSPC)."""

    def argv(tmp, experiment, run, monkeypatch):
        target = tmp / "sector"
        real_mkdir = Path.mkdir

        def mkdir(self: Path, *args, **kwargs):
            if self.resolve() == target:
                raise OSError(code, message, *([str(self)] if with_name else []))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
        return ["synthetic", "--out", str(target), "--stars", "2"]

    return argv


def _bogus_architecture(tmp, experiment, run, monkeypatch):
    return ["train", "--data", str(experiment), "--out", str(tmp / "r"), "--architecture", "bogus", *TRAIN]


def _bogus_task(command: str) -> Callable[..., list[str]]:
    def argv(tmp, experiment, run, monkeypatch):
        bad = Path(shutil.copytree(run, tmp / "bad_run"))
        bundle = json.loads((bad / "bundle.json").read_text())
        bundle["task"] = "bogus"
        (bad / "bundle.json").write_text(json.dumps(bundle))
        out = ["--out", str(tmp / "c.csv")] if command == "infer" else []
        return [command, "--model", str(bad), "--data", str(experiment / "test"), "--num-workers", "0", "--quiet",
                *out]

    return argv


def _bogus_positive_kind(tmp, experiment, run, monkeypatch):
    return ["synthetic", "--out", str(tmp / "s"), "--stars", "2", "--experiment", "--positive-kind", "bogus"]


def _positive_kind_without_experiment(tmp, experiment, run, monkeypatch):
    return ["synthetic", "--out", str(tmp / "s"), "--stars", "2", "--positive-kind", "heartbeat"]


def _synthetic_out_is_a_file(tmp, experiment, run, monkeypatch):
    (tmp / "sector.fits").write_text("already here")
    return ["synthetic", "--out", str(tmp / "sector.fits"), "--stars", "2"]


def _infer_out_under_a_file(tmp, experiment, run, monkeypatch):
    (tmp / "notes.txt").write_text("a file, not a folder")
    return ["infer", "--model", str(run), "--data", str(experiment / "test"), "--out",
            str(tmp / "notes.txt" / "c.csv"), "--num-workers", "0", "--quiet"]


def _all_training_files_bad(tmp, experiment, run, monkeypatch):
    data = _copy(experiment, tmp)
    _spoil(sorted((data / "train").rglob("*.fits")))
    return ["train", "--data", str(data), "--out", str(tmp / "r"), "--num-workers", "2", *TRAIN]


def _all_validation_files_bad(tmp, experiment, run, monkeypatch):
    data = _copy(experiment, tmp)
    _spoil(sorted((data / "validation").rglob("*.fits")))
    return ["train", "--data", str(data), "--out", str(tmp / "r"), "--num-workers", "0", *TRAIN]


def _all_evaluation_files_bad(tmp, experiment, run, monkeypatch):
    data = _copy(experiment, tmp)
    _spoil(sorted((data / "test").rglob("*.fits")))
    return ["evaluate", "--model", str(run), "--data", str(data / "test"), "--num-workers", "2", "--quiet"]


CASES: dict[str, Case] = {
    "validation-class-folder-renamed": Case(_mismatched_classes, [
        "DATA/validation has classes {negative, planet} but", "DATA/train has {negative, positive}",
        "every split needs the same class folders"]),
    "one-class-folder": Case(_one_class, ["DATA/train has one class folder (positive)", "at least two"]),
    "out-under-a-file": Case(_out_under_a_file, ["--out", "notes.txt is a file, not a folder"]),
    "out-in-read-only-folder": Case(_read_only_folder, ["--out", "readonly", "not writable"]),
    "read-only-file-system": Case(_write_fails(errno.EROFS, "Read-only file system", True),
                                  ["sector: Read-only file system"]),
    "permission-denied": Case(_write_fails(errno.EACCES, "Permission denied", True), ["sector: Permission denied"]),
    "disk-full": Case(_write_fails(errno.ENOSPC, "No space left on device", False),
                      ["No space left on device (writing sector)"]),
    "unknown-architecture": Case(_bogus_architecture, [
        "--architecture bogus", "astronet, hadryss, hadryss_passages, resnet1d, transformer"]),
    "bundle-task-bogus-infer": Case(_bogus_task("infer"), ["bundle.json"], needs_run=True),
    "bundle-task-bogus-evaluate": Case(_bogus_task("evaluate"), ["bundle.json"], needs_run=True),
    "unknown-positive-kind": Case(_bogus_positive_kind, [
        "--positive-kind bogus", "planet, eclipsing_binary, heartbeat, flare, quiet"]),
    "positive-kind-without-experiment": Case(_positive_kind_without_experiment, [
        "--positive-kind only applies to an experiment layout: add --experiment"]),
    "synthetic-out-is-a-file": Case(_synthetic_out_is_a_file, ["--out", "sector.fits", "not a folder"]),
    "infer-out-under-a-file": Case(_infer_out_under_a_file, ["--out", "notes.txt is a file, not a folder"],
                                   needs_run=True),
    "all-training-files-bad": Case(_all_training_files_bad, [
        "files could not be used", "r/problems.csv"]),
    "all-validation-files-bad": Case(_all_validation_files_bad, [
        "no usable validation light curves: none of the 3 files could be used", "r/problems.csv", "DATA/validation/"]),
    "all-evaluation-files-bad": Case(_all_evaluation_files_bad, [
        "--data DATA/test: none of the 3 files could be used; the first: DATA/test/"], needs_run=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_mistake_is_one_error_line_and_exit_2(name, experiment, tmp_path, monkeypatch, capsys, request):
    case = CASES[name]
    run = request.getfixturevalue("run") if case.needs_run else tmp_path / "no_run"
    monkeypatch.chdir(tmp_path)  # error lines name DATA/... as the user typed it
    monkeypatch.delenv("QUSI_LAB_DEBUG", raising=False)
    argv = [str(Path(item).relative_to(tmp_path)) if item.startswith(str(tmp_path)) else item
            for item in case.argv(tmp_path, experiment, run, monkeypatch)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    lines = error.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qusi-lab: error: "), error
    assert "Traceback" not in error
    for text in case.says:
        assert text in lines[0], (text, lines[0])


# ----------------------------------------------------------------------------- as a user runs it


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (its DataLoader workers, say), children before grandchildren."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _qusi_lab(*argv: str, cwd: Path, debug: bool = False, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the command line; a run that hangs fails the test with every process's Python stacks.

    ``PYTHONFAULTHANDLER`` makes each process (workers too) print its threads' tracebacks on SIGABRT, which is
    sent to the whole tree at the timeout: a hang then says where it hung instead of only that it did.
    """
    env = {key: value for key, value in os.environ.items() if key != "QUSI_LAB_DEBUG"}
    env["PYTHONFAULTHANDLER"] = "1"
    if debug:
        env["QUSI_LAB_DEBUG"] = "1"
    command = [sys.executable, "-m", "qusi_lab.cli", *argv]
    hung = False
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                          env=env) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            tree = [process.pid, *_descendants(process.pid)] if sys.platform.startswith("linux") else []
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGABRT)
                except ProcessLookupError:
                    pass
            try:
                stdout, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            for pid in tree[1:]:  # a worker that outlived the dump (orphans are no longer below the process)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    if hung:
        pytest.fail(f"qusi-lab {' '.join(argv)} did not finish in {timeout} s; stdout:\n{stdout}\n"
                    f"stderr (the stacks of every process):\n{stderr}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_mismatched_class_folders_end_to_end(experiment, tmp_path):
    data = _copy(experiment, tmp_path)
    (data / "validation" / "positive").rename(data / "validation" / "planet")
    completed = _qusi_lab("train", "--data", "DATA", "--out", "r", "--balance", "natural", "--num-workers", "0",
                          *TRAIN, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.strip() == (
        "qusi-lab: error: DATA/validation has classes {negative, planet} but DATA/train has {negative, positive}: "
        "every split needs the same class folders")
    assert not (tmp_path / "r").exists()


def test_all_training_files_bad_end_to_end(experiment, tmp_path):
    data = _copy(experiment, tmp_path)
    bad = sorted((data / "train").rglob("*.fits"))
    _spoil(bad)
    completed = _qusi_lab("train", "--data", "DATA", "--out", "r", "--num-workers", "2", *TRAIN, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert lines[0].startswith("qusi-lab: error: ") and "r/problems.csv" in lines[0]
    problems = pd.read_csv(tmp_path / "r" / "problems.csv")
    assert list(problems.columns) == ["path", "error", "stage"]
    assert set(problems["path"]) <= {str(path.relative_to(tmp_path)) for path in bad}
    assert f"{len(problems)} files could not be used" in lines[0]


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    completed = _qusi_lab("synthetic", "--out", "notes.txt/sector", "--stars", "2", cwd=tmp_path, debug=True)
    assert completed.returncode == 1 and "Traceback" in completed.stderr


def test_genuine_bugs_keep_their_traceback(monkeypatch):
    # An OSError that is not about a path the user gave (no file name, not a disk/permission problem) is a bug.
    import qusi_lab.cli as cli

    def broken(args):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setitem(cli._HANDLERS, "synthetic", broken)
    with pytest.raises(OSError, match="Bad file descriptor"):
        main(["synthetic", "--out", "x"])


# ----------------------------------------------------------------------------- problem files are named


def test_train_names_its_problem_files(experiment, tmp_path, capsys):
    data = _copy(experiment, tmp_path)
    bad = sorted((data / "train").rglob("*.fits"))[:6] + sorted((data / "validation").rglob("*.fits"))[:1]
    _spoil(bad)
    out = tmp_path / "run"
    # Natural class shares: 5 steps of 4 curves go once through all 18 training curves, so all 6 bad ones are met.
    assert main(["train", "--data", str(data), "--out", str(out), "--balance", "natural", "--num-workers", "0",
                 "--max-steps", "5", "--batch-size", "4", "--input-length", "64", "--validation-every", "5",
                 "--quiet"]) == 0
    problems = pd.read_csv(out / "problems.csv")
    assert list(problems.columns) == ["path", "error", "stage"]
    assert set(problems["path"]) == {str(path) for path in bad}
    assert problems["error"].str.contains("LightCurveReadError").all()
    printed = capsys.readouterr().out
    assert f"7 files could not be used (all listed in {out / 'problems.csv'})" in printed
    shown = [path for path in problems["path"] if path in printed]
    assert len(shown) == 5 and "... and 2 more" in printed


def test_messages_of_our_own_errors_are_kept_and_worker_tracebacks_dropped():
    from qusi_lab.cli import _user_message
    from qusi_lab.data import NoUsableLightCurvesError
    from qusi_lab.errors import CheckpointWriteError

    # Our OSError subclasses already name the file: their message is printed as it is.
    assert _user_message(CheckpointWriteError("run/last.pt: no space left on device")) == (
        "run/last.pt: no space left on device")
    assert _user_message(OSError(errno.EROFS, "Read-only file system", "run/x")) == "run/x: Read-only file system"
    # torch re-raises a worker's exception with the worker's traceback as its message.
    wrapped = NoUsableLightCurvesError(
        "Caught NoUsableLightCurvesError in DataLoader worker process 0.\nOriginal Traceback (most recent call "
        "last):\n  File \"streams.py\", line 1, in __iter__\nqusi_lab.data.problems.NoUsableLightCurvesError: "
        "100 light curves in a row failed; the first:\n  a.fits: bad")
    assert _user_message(wrapped) == "100 light curves in a row failed; the first:"
    assert _user_message(ValueError("a bug")) is None


def test_synthetic_population_unknown_is_one_error_line(tmp_path, capsys):
    from qusi_lab.cli import main

    assert main(["synthetic", "--out", str(tmp_path / "s"), "--stars", "2", "--population", "bogus"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["qusi-lab: error: --population bogus: unknown population; choose one of physical, stress"]
    assert not (tmp_path / "s").exists()


def test_synthetic_population_stress_writes_the_stress_sky(tmp_path, capsys):
    """The CLI's --population reaches make_sector: the same truth as make_sector(population="stress")."""
    import pandas as pd

    from qusi_lab import synthetic
    from qusi_lab.cli import main

    assert main(["synthetic", "--out", str(tmp_path / "cli"), "--stars", "3", "--seed", "2",
                 "--population", "stress"]) == 0
    synthetic.make_sector(tmp_path / "stress", n_stars=3, seed=2, population="stress")
    synthetic.make_sector(tmp_path / "physical", n_stars=3, seed=2)
    columns = ["label", "period", "tess_mag", "snr"]
    made = synthetic.load_truth(tmp_path / "cli")[columns]
    pd.testing.assert_frame_equal(made, synthetic.load_truth(tmp_path / "stress")[columns])
    assert not made.equals(synthetic.load_truth(tmp_path / "physical")[columns])
