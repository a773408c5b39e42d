"""Saved models ("bundles"): a :class:`~qusi_lab.models.trained.Model` on disk, and back.

Saved, a model is a folder (a "bundle")::

    my_model/
        model.pt       the state_dict (torch.save; read back with weights_only=True)
        bundle.json    architecture name and config, preprocessing pipeline, class names, task,
                       positive class, input length, regression target scaler, training settings,
                       validation metrics, qusi_lab version, bundle format version, creation time,
                       and ``checksums``: the sha256 of every file of the bundle

Integrity: ``checksums["model.pt"]`` is the sha256 of the weights file's bytes, and
``checksums["bundle.json"]`` the sha256 of bundle.json's own content *without* the
``checksums`` entry, written as compact JSON with sorted keys (so re-indenting the file does
not matter, but changing any value does). :func:`load_bundle_info` and :func:`load` verify both
and raise :class:`BundleDamagedError` naming the file when a byte of the weights or a value of
the description changed. Bundles saved before checksums existed load with a warning. The
content is checked too (known task, positive class among the classes, one output per class,
weight shapes matching the architecture's config, finite weights), so a bundle whose
checksums were recomputed after an edit is still refused when it does not hold together.

Compatibility: a bundle loads only into a qusi_lab with the same MAJOR version (and, while the
version is 0.x, the same MINOR version), and only if its format version is one this code knows.

Example
-------
>>> result = train(network, train_set, validation_set)   # doctest: +SKIP
>>> result.model.save("models/transits")                 # doctest: +SKIP
>>> model = load("models/transits")                      # doctest: +SKIP
>>> model.label_names                                    # doctest: +SKIP
('negative', 'positive')
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qusi_lab._deprecation import warn_deprecated
from qusi_lab.core.jsonable import to_jsonable
from qusi_lab.errors import QusiLabError
from qusi_lab.models.trained import BUNDLE_FORMAT_VERSION, TASKS, Model, description_of

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "BundleError",
    "BundleDamagedError",
    "save_bundle",
    "load",
    "load_bundle_info",
    "versions_compatible",
]

BUNDLE_FILE = "bundle.json"
WEIGHTS_FILE = "model.pt"
CHECKSUMS_KEY = "checksums"


class BundleError(QusiLabError, ValueError):
    """A saved model bundle is missing, corrupt, or from an incompatible qusi_lab version."""


class BundleDamagedError(BundleError):
    """A file of a bundle does not match the sha256 recorded when it was saved: damaged or edited."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _description_digest(data: Mapping[str, Any]) -> str:
    """sha256 of bundle.json's content minus its ``checksums``: compact JSON, sorted keys."""
    content = {key: value for key, value in data.items() if key != CHECKSUMS_KEY}
    return _sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8"))


def _current_version() -> str:
    from qusi_lab._version import __version__

    return __version__


def _json_ready(value: Any) -> Any:
    # One JSON policy for the whole package (NaN/inf -> null); repr keeps what JSON cannot hold readable.
    return to_jsonable(value, default=repr)


_VERSION_PATTERN = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?")


def _major_minor(version: str) -> tuple[int, int] | None:
    match = _VERSION_PATTERN.match(str(version))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def versions_compatible(saved: str, current: str) -> bool:
    """True when a bundle saved by qusi_lab ``saved`` can be loaded by qusi_lab ``current``.

    Same MAJOR version, and for 0.x versions also the same MINOR version (semantic versioning:
    0.x releases may break formats).

    Example
    -------
    >>> versions_compatible("1.2.0", "1.5.3"), versions_compatible("0.1.0", "0.2.0"), versions_compatible("2.0", "1.9")
    (True, False, False)
    """
    saved_parts, current_parts = _major_minor(saved), _major_minor(current)
    if saved_parts is None or current_parts is None:
        return False
    if saved_parts[0] != current_parts[0]:
        return False
    return saved_parts[0] != 0 or saved_parts[1] == current_parts[1]


def _architecture_of(model: nn.Module) -> tuple[str, dict[str, Any]]:
    from qusi_lab.models.registry import model_class

    name = getattr(model, "name", None) or type(model).__name__
    config = getattr(model, "config", None)
    if not isinstance(config, Mapping):
        raise BundleError(
            f"cannot save a {type(model).__name__}: saving needs a network with a `config` dict of its "
            "constructor arguments (every qusi_lab.models network has one; decorate your own class with "
            "qusi_lab.models.register_model and set self.config)"
        )
    try:
        registered = model_class(str(name))
    except (KeyError, ValueError) as error:
        raise BundleError(
            f"cannot save a {type(model).__name__}: {name!r} is not a registered model, so load() could not "
            f"rebuild it ({error}); register it with qusi_lab.models.register_model"
        ) from error
    if registered is not type(model):
        raise BundleError(
            f"cannot save a {type(model).__name__}: the name {name!r} is registered for "
            f"{registered.__qualname__}, so load() would rebuild the wrong class; give your class its own "
            "`name` and register it with qusi_lab.models.register_model"
        )
    return str(name), dict(config)


def save_bundle(
    model: nn.Module | Model,
    path: str | os.PathLike[str],
    *,
    preprocessing: Any = None,
    label_names: Sequence[str] | None = None,
    task: str | None = None,
    positive_class: str | None = None,
    input_length: int | None = None,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    target_scaler: Mapping[str, float] | None = None,
) -> Path:
    """Write ``model`` and what it needs to be used again to the folder ``path``; returns the folder.

    Object first, path second, as everywhere in qusi_lab (``save_bundle(path, model)``, the 0.1 order,
    still works with a ``DeprecationWarning`` until 0.2).
    ``model.save(path)`` (:meth:`Model.save`) is the usual spelling; this function also takes a
    bare network plus its description as keywords. Every keyword defaults to the model's own
    value (a :class:`Model`, or a network carrying one as ``.bundle``). ``preprocessing`` may be a
    :class:`~qusi_lab.transforms.Pipeline` or its ``to_dict()``. An existing bundle in ``path``
    is replaced; other files in the folder are left alone.

    bundle.json records the sha256 of the weights and of its own content (``checksums``), which
    :func:`load` verifies. Both files are first written to temporary files in the folder and
    only then renamed into place, so a full disk raises :class:`BundleError` (naming the file
    and the cause) and leaves a previous bundle there as it was.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> from qusi_lab.transforms import default_preprocessing
    >>> import tempfile
    >>> folder = save_bundle(Hadryss(input_length=256), tempfile.mkdtemp() + "/demo", task="binary",
    ...                      label_names=["negative", "positive"], preprocessing=default_preprocessing(256))
    >>> sorted(p.name for p in folder.iterdir())
    ['bundle.json', 'model.pt']
    """
    from qusi_lab.transforms import Pipeline

    if isinstance(model, (str, os.PathLike)) and isinstance(path, (nn.Module, Model)):
        warn_deprecated("save_bundle(path, model) is now save_bundle(model, path)", stacklevel=3)
        model, path = path, model
    network = model.network if isinstance(model, Model) else model
    existing = description_of(model)

    def pick(value: Any, attribute: str) -> Any:
        if value is not None:
            return value
        return getattr(existing, attribute) if existing is not None else None

    chosen_task = pick(task, "task")
    if chosen_task not in TASKS:
        raise BundleError(f"save_bundle needs task='binary', 'multiclass' or 'regression', got {chosen_task!r}")
    pipeline = pick(preprocessing, "preprocessing")
    if isinstance(pipeline, Mapping):
        pipeline = Pipeline.from_dict(pipeline)
    elif isinstance(pipeline, (list, tuple)):
        pipeline = Pipeline(pipeline)
    names = tuple(str(name) for name in (pick(label_names, "label_names") or ()))
    scaler = pick(target_scaler, "target_scaler")
    description = Model(
        network,
        task=chosen_task,
        label_names=names,
        # Names given here without a positive class: decide it from them, not from the old description.
        positive_class=positive_class if label_names is not None else pick(positive_class, "positive_class"),
        input_length=pick(input_length, "input_length"),
        preprocessing=pipeline,
        target_scaler=None if scaler is None else dict(scaler),
        training_config=dict(training if training is not None else (existing.training_config if existing else {})),
        data_config=dict(existing.data_config) if existing is not None else {},
        metrics=dict(pick(metrics, "metrics") or {}),
    )
    return _save(description, Path(path))


def _save(model: Model, folder: Path) -> Path:
    """Write ``model`` as a bundle in ``folder`` (see :func:`save_bundle`)."""
    if folder.exists() and not folder.is_dir():
        raise BundleError(
            f"{folder}: exists and is not a folder; a bundle is a folder (model.pt + bundle.json)"
        )
    network = model._network()
    architecture, config = _architecture_of(network)
    if model.task not in TASKS:
        raise BundleError(f"save_bundle needs task='binary', 'multiclass' or 'regression', got {model.task!r}")
    length = model.input_length if model.input_length is not None else getattr(network, "input_length", None)
    description = model.replace(
        architecture=architecture,
        model_config=config,
        input_length=None if length is None else int(length),
        qusi_lab_version=_current_version(),
        format_version=BUNDLE_FORMAT_VERSION,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    state = {key: value.detach().cpu() for key, value in network.state_dict().items()}
    for key, tensor in state.items():  # load() would refuse it: better to say so before it is written
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(
                f"{folder}: not saved, the weights hold NaN or infinite values (in {key}); "
                "training diverged: lower the learning rate or check the inputs"
            )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    weights = buffer.getvalue()
    files = {WEIGHTS_FILE: weights}  # every file of the bundle besides bundle.json, each with its checksum
    content = description.to_dict()
    content[CHECKSUMS_KEY] = {
        **{name: _sha256(data) for name, data in files.items()},
        BUNDLE_FILE: _description_digest(content),
    }
    files[BUNDLE_FILE] = (json.dumps(content, indent=2) + "\n").encode("utf-8")
    _write_files_atomically(folder, files)
    return folder


def _write_files_atomically(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write every file to a temporary file in ``folder``, then rename them all into place.

    Nothing is replaced before everything is written, so a failure (a full disk) leaves the
    previous files untouched; bundle.json is renamed last, so a folder never holds a
    description newer than its weights (and the checksum would catch the reverse).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BundleError(f"{folder}: cannot create the bundle folder ({error.strerror or error})") from error
    temporaries: dict[str, Path] = {}
    try:
        for name, data in files.items():
            try:
                handle, temporary_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
                temporaries[name] = Path(temporary_name)
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
            except OSError as error:
                raise BundleError(
                    f"{folder / name}: cannot write the bundle ({(error.strerror or str(error)).lower()}); "
                    "a previous bundle there is unchanged") from error
        for name in sorted(files, key=lambda item: item == BUNDLE_FILE):
            try:
                os.replace(temporaries[name], folder / name)
            except OSError as error:
                raise BundleError(f"{folder / name}: cannot write the bundle ({error.strerror or error})") from error
    finally:
        for temporary in temporaries.values():
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def _bundle_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    given = Path(path)
    folder = given.parent if given.name == BUNDLE_FILE else given
    json_path = folder / BUNDLE_FILE
    if not folder.exists():
        raise FileNotFoundError(
            f"{folder}: no such model bundle (a folder with {BUNDLE_FILE} and {WEIGHTS_FILE})"
        )
    if not json_path.is_file():
        raise BundleError(f"{folder}: not a model bundle, it has no {BUNDLE_FILE}")
    return folder, json_path


def load_bundle_info(path: str | os.PathLike[str]) -> Model:
    """Read and check ``bundle.json`` of the bundle at ``path`` (the weights are checked, not loaded).

    Returns a :class:`Model` without its network (``model.network`` is None). Verifies the recorded sha256 of bundle.json's content and of ``model.pt`` and that the
    description holds together (known task, positive class among the classes, class count
    fitting the task). Raises :class:`BundleDamagedError` naming the file when a checksum does
    not match (damaged or edited), :class:`BundleError` naming the file when it is corrupt,
    inconsistent or from an incompatible version. Bundles saved without checksums (older
    qusi_lab) load with a warning.
    """
    folder, json_path = _bundle_paths(path)
    data = _read_description(json_path)
    _verify_checksums(folder, json_path, data)
    try:
        info = Model.from_dict(data, path=folder)
    except Exception as error:
        raise BundleError(
            f"{json_path}: invalid bundle description ({type(error).__name__}: {error})"
        ) from error
    _check_description(info, json_path)
    return info


def _read_description(json_path: Path) -> dict[str, Any]:
    """bundle.json as a dict, with format, version and required keys checked."""
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(
            f"{json_path}: cannot read the bundle description ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(data, dict):
        raise BundleError(f"{json_path}: expected a JSON object, found {type(data).__name__}")
    current = _current_version()
    format_version = data.get("format_version")
    saved_version = data.get("qusi_lab_version")
    saved_by = f"saved by qusi_lab {saved_version}" if saved_version else "saved without a qusi_lab version"
    if format_version != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{json_path}: bundle format {format_version!r} ({saved_by}) is not one "
            f"qusi_lab {current} can read (it reads format {BUNDLE_FORMAT_VERSION})"
        )
    if not isinstance(saved_version, str) or not saved_version.strip():
        raise BundleError(
            f"{json_path}: this model was {saved_by}, so qusi_lab {current} cannot tell whether it can read it "
            "(bundles load only within the same major version, and within the same minor version for 0.x)"
        )
    if not versions_compatible(saved_version, current):
        raise BundleError(
            f"{json_path}: this model was {saved_by}, which is incompatible with the "
            f"installed qusi_lab {current} (bundles load only within the same major version, and within the "
            f"same minor version for 0.x); install qusi_lab {saved_version} to use it"
        )
    missing = [key for key in ("architecture", "model_config", "task") if key not in data]
    if missing:
        raise BundleError(f"{json_path}: missing {', '.join(missing)}")
    return data


def _damaged(path: Path, what: str) -> BundleDamagedError:
    return BundleDamagedError(
        f"{path}: {what}: the file is damaged or was edited after the bundle was saved; save the model "
        "again, or restore the bundle from a copy"
    )


def _verify_checksums(folder: Path, json_path: Path, data: Mapping[str, Any]) -> None:
    """Compare every recorded sha256 with the files; warn when the bundle predates checksums."""
    checksums = data.get(CHECKSUMS_KEY)
    if checksums is None:
        warnings.warn(
            f"{json_path}: this bundle records no checksums (saved by an older qusi_lab), so damage to its "
            "files cannot be detected; save it again to add them", UserWarning, stacklevel=3)
        return
    if not isinstance(checksums, Mapping) or not all(isinstance(value, str) for value in checksums.values()):
        raise _damaged(json_path, f"'{CHECKSUMS_KEY}' is not a map of file names to sha256 digests")
    if BUNDLE_FILE not in checksums or WEIGHTS_FILE not in checksums:
        raise _damaged(json_path, f"'{CHECKSUMS_KEY}' lacks the sha256 of {BUNDLE_FILE} or {WEIGHTS_FILE}")
    if _description_digest(data) != checksums[BUNDLE_FILE]:
        raise _damaged(json_path, "its content does not match the sha256 recorded in it")
    for name, expected in checksums.items():
        if name == BUNDLE_FILE:
            continue
        file = folder / name
        if Path(name).name != name or name.startswith("."):
            raise _damaged(json_path, f"'{CHECKSUMS_KEY}' names {name!r}, which is not a file of the bundle")
        if not file.is_file():
            raise BundleError(f"{file}: the bundle has no {'weights file' if name == WEIGHTS_FILE else name}")
        try:
            actual = _sha256(file.read_bytes())
        except OSError as error:
            raise BundleError(f"{file}: cannot read ({type(error).__name__}: {error})") from error
        if actual != expected:
            raise _damaged(file, f"its sha256 differs from the one recorded in {BUNDLE_FILE}")


def _check_description(info: Model, json_path: Path) -> None:
    """Refuse descriptions that cannot be right whatever the weights are."""
    if info.task not in TASKS:
        raise BundleError(f"{json_path}: unknown task {info.task!r}; a bundle is for one of {', '.join(TASKS)}")
    names = info.label_names
    if len(set(names)) != len(names):
        raise BundleError(f"{json_path}: label_names {list(names)} repeat a class")
    if info.task == "regression":
        if names or info.positive_class is not None:
            raise BundleError(
                f"{json_path}: task 'regression' with label_names {list(names)} and positive_class "
                f"{info.positive_class!r}; a regression model has no classes")
        return
    if info.task == "binary" and len(names) not in (0, 2):
        raise BundleError(f"{json_path}: a binary model has two classes, label_names has {len(names)}: {list(names)}")
    if info.task == "multiclass" and len(names) < 2:
        raise BundleError(f"{json_path}: a multiclass model needs at least two label_names, got {list(names)}")
    if info.positive_class is not None and names and info.positive_class not in names:
        raise BundleError(
            f"{json_path}: positive_class {info.positive_class!r} is not one of the label_names {list(names)}")


def _expected_outputs(info: Model) -> int:
    return len(info.label_names) if info.task == "multiclass" else 1


def _check_weights(model: nn.Module, state: Mapping[str, Any], info: Model, json_path: Path,
                   weights_path: Path) -> None:
    """Compare the saved tensors with a network built from the config (on the meta device: no memory)."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise BundleError(
            f"{weights_path}: the weights do not fit architecture {info.architecture!r} with the config in "
            f"{json_path.name} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for key, tensor in expected.items():
        saved = state[key]
        if not isinstance(saved, torch.Tensor) or tuple(saved.shape) != tuple(tensor.shape):
            shape = tuple(saved.shape) if isinstance(saved, torch.Tensor) else type(saved).__name__
            raise BundleError(
                f"{json_path}: model_config builds {key} of shape {tuple(tensor.shape)}, but {weights_path.name} "
                f"holds {shape}; the config was edited or belongs to other weights")
    outputs = getattr(model, "n_outputs", None)
    if outputs is not None and int(outputs) != _expected_outputs(info):
        raise BundleError(
            f"{json_path}: the network has {outputs} outputs, but a {info.task} model with label_names "
            f"{list(info.label_names)} needs {_expected_outputs(info)}")
    for key, saved in state.items():
        if isinstance(saved, torch.Tensor) and saved.is_floating_point() and not bool(torch.isfinite(saved).all()):
            raise BundleError(
                f"{weights_path}: the weights hold NaN or infinite values (in {key}); the model cannot give "
                "meaningful scores (did training diverge?)")


def load(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Model:
    """The :class:`Model` saved at ``path`` (by :meth:`Model.save` or :func:`save_bundle`), ready to use.

    Its network (``model.network``) is in eval mode; the Model holds the preprocessing pipeline,
    class names, task, ... Weights are read with
    ``torch.load(weights_only=True)``, so loading a bundle never runs code from the file.

    Before anything is built, the checksums are verified (:func:`load_bundle_info`) and the
    saved tensors' shapes are compared with a network built from the config on PyTorch's
    ``meta`` device (no memory), so an edited config never allocates a huge network; the
    output count must fit the classes and every weight must be finite.

    Raises :class:`BundleDamagedError` (naming the file) when a file changed after saving,
    :class:`BundleError` (naming the file) for a corrupt or inconsistent bundle, an unknown
    format or a bundle from an incompatible qusi_lab version; ``FileNotFoundError`` when
    ``path`` does not exist.

    Example
    -------
    >>> model = load("models/transits")                # doctest: +SKIP
    >>> model.preprocessing                            # doctest: +SKIP
    """
    from qusi_lab.models.registry import from_config

    info = load_bundle_info(path)
    folder = info.path if info.path is not None else Path(path)
    weights_path = folder / WEIGHTS_FILE
    json_path = folder / BUNDLE_FILE
    if not weights_path.is_file():
        raise BundleError(f"{weights_path}: the bundle has no weights file")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise BundleError(
            f"{weights_path}: cannot load the weights ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(state, Mapping):
        raise BundleError(f"{weights_path}: cannot load the weights (a {type(state).__name__}, not a state dict)")

    def build() -> nn.Module:
        try:
            return from_config(str(info.architecture), info.model_config)
        except Exception as error:
            raise BundleError(
                f"{json_path}: cannot rebuild architecture {info.architecture!r} ({type(error).__name__}: {error})"
            ) from error

    with torch.device("meta"):
        skeleton = build()
    _check_weights(skeleton, state, info, json_path, weights_path)
    model = build()
    try:
        model.load_state_dict(state)
    except Exception as error:
        raise BundleError(
            f"{weights_path}: cannot load the weights ({type(error).__name__}: {error})"
        ) from error
    model.to(map_location)
    model.eval()
    return info.replace(network=model)
