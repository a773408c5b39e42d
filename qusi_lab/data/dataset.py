"""`LightCurveDataset`: light curves, their labels, and the preprocessing that makes network inputs.

A plain map-style :class:`torch.utils.data.Dataset`: ``dataset[i]`` is
``(x, y)`` with ``x`` the preprocessed float32 flux (length ``input_length``)
and ``y`` the label. Around it: constructors for the usual layouts, endless
training streams, finite in-order evaluation streams, class balance, splits by
target, and a table of files that could not be used.

Build one from::

    LightCurveDataset.from_directory("data/spoc_transit_experiment/train")   # one folder per class
    LightCurveDataset.from_experiment("data/spoc_transit_experiment")        # train/validation/test
    LightCurveDataset.from_functions(get_paths, load_times_and_fluxes_from_path, load_label_from_path)  # qusi
    LightCurveDataset.from_light_curves(light_curves, labels)                 # objects in memory
    LightCurveDataset(paths, labels, load=my_reader)                          # anything else
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from qusi_lab.data.balancing import class_probabilities, class_weights, item_weights
from qusi_lab.data.labels import encode_labels
from qusi_lab.data.problems import DatasetLayoutError, ProblemLog, describe_error
from qusi_lab.data.splits import split_by_target
from qusi_lab.data.streams import DEFAULT_MAX_CONSECUTIVE_FAILURES, EvaluationStream, TrainingStream
from qusi_lab.data.worker_safety import WorkerSafeCallable
from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.lightcurve import LightCurve

__all__ = ["LightCurveDataset", "as_light_curve", "target_id_from_filename", "EXPECTED_LAYOUT"]

EXPECTED_LAYOUT = (
    "one sub-folder per class holding that class's light-curve files (searched recursively), e.g.\n"
    "    data/spoc_transit_experiment/train/positive/*.fits\n"
    "    data/spoc_transit_experiment/train/negative/*.fits\n"
    "(and the same under validation/ and, optionally, test/)"
)

# Mission file names that carry the target id: several files (sectors/quarters) of one star share it.
_FILENAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^tess\d{13}-s\d{4}-(\d{16})-", re.IGNORECASE), "TIC"),  # SPOC 2-min / 20-s
    (re.compile(r"^hlsp_tess-spoc_tess_phot_(\d{16})-s\d{4}", re.IGNORECASE), "TIC"),  # TESS-SPOC FFI
    (re.compile(r"^hlsp_qlp_tess_ffi_s\d{4}-(\d{16})_", re.IGNORECASE), "TIC"),  # QLP
    (re.compile(r"^kplr(\d{9})-", re.IGNORECASE), "KIC"),  # Kepler
    (re.compile(r"^ktwo(\d{9})-", re.IGNORECASE), "EPIC"),  # K2
    (re.compile(r"(?:^|[^a-z])tic[ _-]?(\d+)", re.IGNORECASE), "TIC"),  # tic_25155310_s01.fits ...
    (re.compile(r"(?:^|[^a-z])kic[ _-]?(\d+)", re.IGNORECASE), "KIC"),
    (re.compile(r"(?:^|[^a-z])epic[ _-]?(\d+)", re.IGNORECASE), "EPIC"),
)

ArrayLoader = Callable[[Any], Any]


def target_id_from_filename(path: str | os.PathLike[str]) -> str | None:
    """The target id in a mission file name (``"TIC 25155310"``, ``"KIC 1234567"``, ``"EPIC 201234567"``).

    Recognises SPOC, TESS-SPOC and QLP TESS names, Kepler ``kplr...`` and K2
    ``ktwo...`` names, and names containing ``tic_<n>``/``kic_<n>``/``epic_<n>``.
    Returns None for other names.

    Example
    -------
    >>> target_id_from_filename("tess2018206045859-s0001-0000000025155310-0120-s_lc.fits")
    'TIC 25155310'
    >>> target_id_from_filename("kplr001234567-2009131105131_llc.fits")
    'KIC 1234567'
    >>> target_id_from_filename("star_17.csv") is None
    True
    """
    name = Path(path).name
    for pattern, prefix in _FILENAME_PATTERNS:
        match = pattern.search(name)
        if match:
            return f"{prefix} {int(match.group(1))}"
    return None


def _class_folder_names(folder: Path) -> list[str]:
    """The class sub-folders of a split folder, sorted (hidden folders are not classes)."""
    return sorted(child.name for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))


def _check_class_folders(folders: dict[str, Path]) -> list[str]:
    """The class names every split of an experiment shares; raises if train has < 2 or the splits differ.

    A class folder present in one split only (``validation/planet`` beside
    ``train/positive``) would silently make a binary task a 3-class one with a
    class that never trains; the same for a test split lacking a class.
    """

    def listed(names: list[str]) -> str:
        return "{" + ", ".join(names) + "}"

    train = folders["train"]
    expected = _class_folder_names(train)
    if not expected:
        return expected  # no class folders at all: from_directory explains the expected layout
    if len(expected) == 1:
        raise DatasetLayoutError(
            f"{train} has one class folder ({expected[0]}): a classifier needs at least two"
        )
    for split, folder in folders.items():
        found = _class_folder_names(folder)
        if split != "train" and found and found != expected:
            raise DatasetLayoutError(
                f"{folder} has classes {listed(found)} but {train} has {listed(expected)}: "
                "every split needs the same class folders"
            )
    return expected


def _is_path(source: Any) -> bool:
    return isinstance(source, (str, os.PathLike))


def as_light_curve(result: Any, source: Any = None, *, function_name: str = "load") -> LightCurve:
    """Turn what a user's load function returned into a validated :class:`LightCurve`.

    Accepts ``(times, fluxes)``, ``(times, fluxes, flux_errors)``, a qusi_lab
    ``LightCurve`` or a ``lightkurve.LightCurve``. When ``source`` is a path it
    becomes ``meta["path"]`` (unless already set), so errors name the file.

    Example
    -------
    >>> as_light_curve(([1.0, 2.0, 3.0], [1.0, 0.99, 1.0]), "star.csv")
    LightCurve(3 cadences, time 1.000..3.000 d, path=star.csv)
    """
    name = None if source is None else str(source)
    if isinstance(result, LightCurve):
        lc = result
    elif hasattr(result, "time") and hasattr(result, "flux"):  # lightkurve.LightCurve
        lc = LightCurve.from_lightkurve(result)
    elif isinstance(result, (tuple, list)) and len(result) in (2, 3):
        flux_err = result[2] if len(result) == 3 else None
        lc = LightCurve(result[0], result[1], flux_err, validate=False)
    else:
        kind = type(result).__name__
        size = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        raise LightCurveError(
            f"{function_name} returned a {kind}{size}; expected (times, fluxes), "
            "(times, fluxes, flux_errors), a qusi_lab LightCurve or a lightkurve LightCurve",
            name,
        )
    if _is_path(source) and not lc.meta.get("path"):
        lc = lc.replace(meta={**lc.meta, "path": str(source)})
    try:
        lc.validate()
    except LightCurveError as error:
        if error.path is None and name is not None:
            raise LightCurveError(error.reason, name) from None
        raise
    return lc


class _PickledByValue:
    """cloudpickle bytes of an object, inside a dataset's pickled state."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (_PickledByValue, (self.payload,))


def _return_as_is(light_curve: LightCurve) -> LightCurve:
    # The `load` of datasets built from light curves in memory (a module function: picklable).
    return light_curve


def _with_path(error: LightCurveError, name: str) -> LightCurveError:
    """``error`` naming ``name`` (a new error of the same type when it names nothing yet)."""
    if error.path is not None:
        return error
    try:
        renamed = type(error)(error.reason, name)
    except TypeError:
        renamed = LightCurveError(error.reason, name)
    renamed.__cause__ = error.__cause__
    return renamed


class LightCurveDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Light curves with labels, ready for a PyTorch DataLoader.

    Parameters
    ----------
    sources:
        What to load, one per light curve: usually file paths.
    labels:
        One label per source, or None for an unlabelled (inference) dataset.
        Strings/booleans/few distinct integers mean classification, floats
        regression (see :mod:`qusi_lab.data.labels`).
    load:
        ``load(source)`` returns the light curve: a ``LightCurve``, a lightkurve
        ``LightCurve`` or ``(times, fluxes[, flux_errors])``. Default
        :func:`qusi_lab.io.read_light_curve`; to read files with its options (columns
        by name or position, magnitudes), pass
        ``load=qusi_lab.io.light_curve_reader(time_column="BJD", flux_unit="mag")``.
        Any callable works with DataLoader workers under every start method,
        notebook functions included.
    label_names:
        Class names in index order (default: sorted; for binary tasks the
        positive class is moved to index 1).
    task:
        ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from labels when None.
    positive_class:
        Binary tasks: the class whose score the network outputs (label 1).
        Default: the class named ``"positive"``, else the second class.
    preprocessing:
        A :class:`~qusi_lab.transforms.Pipeline` turning a light curve into the
        network input; default :func:`~qusi_lab.transforms.default_preprocessing`.
    augmentation:
        A Pipeline of random augmentations used by training streams; None means
        :func:`~qusi_lab.transforms.default_augmentation`, False means none.
        ``dataset[i]`` never augments.
    input_length:
        Length of ``x``; default the preprocessing's length, else
        :data:`~qusi_lab.transforms.DEFAULT_INPUT_LENGTH` (2048).
    target_ids:
        Star identifier per curve, used to keep a star in one split. Default:
        ``target_id_from_path(source)`` if given, the ``target_id`` of in-memory
        curves, the id in mission file names (:func:`target_id_from_filename`),
        else the file name stem. ``"meta"`` loads every curve now and takes
        ``lc.meta["target_id"]`` (slow for big datasets; for files whose names
        carry no id).
    target_id_from_path:
        Function ``path -> target id`` for file names the default does not know.
    first_position:
        Where ``sources[0]`` stands in a larger collection (a survey shard: its first curve's index in the
        whole input). A random preprocessing step of source ``i`` is seeded with ``first_position + i``,
        so a curve is processed alike whichever shard scores it.

    Example
    -------
    >>> dataset = LightCurveDataset.from_directory("data/spoc_transit_experiment/train")  # doctest: +SKIP
    >>> dataset  # doctest: +SKIP
    LightCurveDataset(1,204 light curves, task='binary', classes: negative=1,000, positive=204, input_length=2048)
    >>> x, y = dataset[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        sources: Sequence[Any],
        labels: Sequence[Any] | None = None,
        *,
        load: ArrayLoader | None = None,
        label_names: Sequence[Any] | None = None,
        task: str | None = None,
        positive_class: Any | None = None,
        preprocessing: Any = None,
        augmentation: Any = None,
        input_length: int | None = None,
        target_ids: Sequence[Any] | str | None = None,
        target_id_from_path: Callable[[Any], Any] | None = None,
        first_position: int = 0,
    ) -> None:
        self._sources: list[Any] = list(sources)
        self._first_position = int(first_position)
        if load is None:
            from qusi_lab.io import read_light_curve

            load = read_light_curve
        self._load = WorkerSafeCallable(load)
        self._names = [self._default_name(position, source) for position, source in enumerate(self._sources)]
        info = encode_labels(
            None if labels is None else list(labels),
            sources=self._names,
            task=task,
            label_names=label_names,
            positive_class=positive_class,
        )
        self._task: str | None = info.task
        self._label_names: tuple[str, ...] = info.label_names
        self._indices: np.ndarray | None = info.indices
        self._regression_targets: np.ndarray | None = info.targets
        self._class_names: tuple[str, ...] | None = info.names
        self._setup_pipelines(preprocessing, augmentation, input_length)
        self._problems = ProblemLog()
        self._target_ids = self._resolve_target_ids(target_ids, target_id_from_path)

    # ------------------------------------------------------------ construction helpers
    @staticmethod
    def _default_name(position: int, source: Any) -> str:
        """How errors and the problems table name a source: its path when it has one."""
        if _is_path(source):
            return str(source)
        if isinstance(source, LightCurve):
            return source.path or f"<light curve {position}>"
        path = getattr(source, "path", None)
        if _is_path(path):
            return str(path)
        text = repr(source)
        return f"<source {position}: {text if len(text) <= 120 else text[:117] + '...'}>"

    def _setup_pipelines(self, preprocessing: Any, augmentation: Any, input_length: int | None) -> None:
        from qusi_lab.transforms import (
            DEFAULT_INPUT_LENGTH,
            Pipeline,
            default_augmentation,
            default_preprocessing,
            make_pipeline,
        )

        if preprocessing is None:
            length = DEFAULT_INPUT_LENGTH if input_length is None else int(input_length)
            preprocessing = default_preprocessing(length)
        elif isinstance(preprocessing, (list, tuple)):
            preprocessing = Pipeline(preprocessing)
        if not hasattr(preprocessing, "to_array"):
            raise TypeError(f"preprocessing must be a qusi_lab.transforms.Pipeline, got {preprocessing!r}")
        pipeline_length = getattr(preprocessing, "input_length", None)
        if input_length is None:
            input_length = DEFAULT_INPUT_LENGTH if pipeline_length is None else int(pipeline_length)
        elif pipeline_length is not None and int(pipeline_length) != int(input_length):
            raise ValueError(
                f"input_length={input_length} but the preprocessing makes inputs of length {pipeline_length}"
            )
        if int(input_length) < 1:
            raise ValueError(f"input_length must be positive, got {input_length}")
        if augmentation is None:
            augmentation = default_augmentation()
        elif augmentation is False:
            augmentation = None
        elif isinstance(augmentation, (list, tuple)):
            augmentation = Pipeline(augmentation)
        self._preprocessing = preprocessing
        self._augmentation = augmentation
        self._training_pipeline = (
            preprocessing if augmentation is None else make_pipeline(preprocessing, augmentation)
        )
        self._input_length = int(input_length)

    def _resolve_target_ids(
        self, target_ids: Sequence[Any] | str | None, target_id_from_path: Callable[[Any], Any] | None
    ) -> tuple[str, ...]:
        from_meta = isinstance(target_ids, str) and target_ids == "meta"
        if isinstance(target_ids, str) and not from_meta:
            raise ValueError(f"target_ids must be a sequence (one id per curve) or 'meta', got {target_ids!r}")
        if target_ids is not None and not from_meta:
            ids = [str(value) for value in target_ids]
            if len(ids) != len(self._sources):
                raise ValueError(f"got {len(ids)} target ids for {len(self._sources)} light curves")
            return tuple(ids)
        resolved = []
        for position, source in enumerate(self._sources):
            value: Any = None
            if target_id_from_path is not None:
                value = target_id_from_path(source)
            if value is None and isinstance(source, LightCurve):
                value = source.target_id
            if value is None and from_meta:
                try:
                    value = self.light_curve(position).target_id
                except LightCurveError as error:
                    self._problems.record(self._names[position], error, "load")
            if value is None and _is_path(source):
                value = target_id_from_filename(source) or Path(source).name.split(".")[0]
            resolved.append(self._names[position] if value is None else str(value))
        return tuple(resolved)

    # ------------------------------------------------------------ pickling (DataLoader workers)
    _BY_VALUE = ("_preprocessing", "_augmentation", "_training_pipeline")

    def __getstate__(self) -> dict[str, Any]:
        # Pipelines may hold Transform classes defined in a notebook (__main__): send them through
        # cloudpickle, which pickles such classes by value, so "spawn"/"forkserver" workers can rebuild them.
        import cloudpickle

        state = dict(self.__dict__)
        for key in self._BY_VALUE:
            state[key] = _PickledByValue(cloudpickle.dumps(state[key]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in self._BY_VALUE:
            if isinstance(state.get(key), _PickledByValue):
                state[key] = pickle.loads(state[key].payload)
        self.__dict__.update(state)

    # ------------------------------------------------------------ alternative constructors
    @classmethod
    def from_functions(
        cls,
        get_paths: Callable[[], Iterable[Any]],
        load_times_and_fluxes_from_path: Callable[[Any], Any],
        load_label_from_path: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> LightCurveDataset:
        """A dataset from qusi's three functions.

        Parameters
        ----------
        get_paths:
            ``get_paths()`` returns the paths (called once, now).
        load_times_and_fluxes_from_path:
            ``f(path)`` returns ``(times, fluxes)``, ``(times, fluxes, flux_errors)``,
            a ``LightCurve`` or a lightkurve ``LightCurve`` (called when a curve is used).
        load_label_from_path:
            ``f(path)`` returns the label (called once per path, now); None for an
            unlabelled dataset.
        **kwargs:
            Any other :class:`LightCurveDataset` argument (``task``, ``label_names``,
            ``target_id_from_path``, ``preprocessing`` ...).

        Functions defined in a notebook work with DataLoader workers under any
        start method (they are pickled by value).

        Example
        -------
        >>> def get_paths():
        ...     return sorted(Path("data/train").glob("*/*.csv"))
        >>> def load_times_and_fluxes_from_path(path):
        ...     table = np.loadtxt(path, delimiter=",", skiprows=1)
        ...     return table[:, 0], table[:, 1]
        >>> def load_label_from_path(path):
        ...     return path.parent.name                      # "positive" / "negative"
        >>> dataset = LightCurveDataset.from_functions(  # doctest: +SKIP
        ...     get_paths, load_times_and_fluxes_from_path, load_label_from_path)
        """
        if "load" in kwargs:
            raise TypeError("from_functions takes the loader as load_times_and_fluxes_from_path, not load=")
        paths = list(get_paths())
        labels = None
        if load_label_from_path is not None:
            labels = []
            for path in paths:
                try:
                    labels.append(load_label_from_path(path))
                except Exception as error:
                    from qusi_lab.errors import LabelError

                    raise LabelError(f"load_label_from_path failed: {describe_error(error)}", path) from error
        return cls(paths, labels, load=load_times_and_fluxes_from_path, **kwargs)

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str], **kwargs: Any) -> LightCurveDataset:
        """A dataset from a folder with one sub-folder per class (files found recursively).

        The sub-folder names are the labels. Hidden folders are ignored.
        ``kwargs`` go to :class:`LightCurveDataset` (``label_names=`` fixes the
        class order, e.g. to keep it the same across train/validation/test).

        Example
        -------
        >>> train = LightCurveDataset.from_directory("data/spoc_transit_experiment/train")  # doctest: +SKIP
        """
        from qusi_lab.io import find_light_curve_files

        root = Path(directory)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such directory. Expected {EXPECTED_LAYOUT}")
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is a file, not a directory. Expected {EXPECTED_LAYOUT}")
        class_folders = sorted(
            child for child in root.iterdir() if child.is_dir() and not child.name.startswith(".")
        )
        if not class_folders:
            loose = find_light_curve_files(root, recursive=False)
            found = f"{len(loose)} light-curve files directly in it" if loose else "nothing usable in it"
            raise DatasetLayoutError(
                f"{root}: found {found} but no class sub-folders. Expected {EXPECTED_LAYOUT}. "
                "For unlabelled files use LightCurveDataset(qusi_lab.io.find_light_curve_files(directory))."
            )
        paths: list[Path] = []
        labels: list[str] = []
        for folder in class_folders:
            files = find_light_curve_files(folder, recursive=True)
            if not files:
                raise DatasetLayoutError(
                    f"{folder}: class folder {folder.name!r} holds no light-curve files "
                    f"(.fits, .fits.gz, .fit, .csv, .npz). Expected {EXPECTED_LAYOUT}"
                )
            paths.extend(files)
            labels.extend([folder.name] * len(files))
        return cls(paths, labels, **kwargs)

    @classmethod
    def from_experiment(cls, root: str | os.PathLike[str], **kwargs: Any) -> dict[str, LightCurveDataset]:
        """``{"train": ..., "validation": ..., "test": ...}`` from ``root/train``, ``root/validation``, ``root/test``.

        Each split is read with :meth:`from_directory`; ``test`` is optional
        (``validation`` may also be called ``val``). All splits get the same class
        names in the same order.

        For classification every split must hold the same class folders, the test
        split too (per-class metrics of a class it lacks mean nothing), and train at
        least two: anything else raises
        :class:`~qusi_lab.data.problems.DatasetLayoutError` naming the folders. A
        regression layout (``task="regression"``, folders named by target value)
        is not checked.

        Example
        -------
        >>> datasets = LightCurveDataset.from_experiment("data/spoc_transit_experiment")  # doctest: +SKIP
        >>> datasets["train"], datasets["validation"]  # doctest: +SKIP
        """
        base = Path(root)
        if not base.is_dir():
            raise FileNotFoundError(
                f"{base}: no such directory. Expected train/, validation/ (and optionally test/) in it, "
                f"each with {EXPECTED_LAYOUT}"
            )
        folders: dict[str, Path] = {}
        for split, names in (("train", ("train",)), ("validation", ("validation", "val")), ("test", ("test",))):
            for name in names:
                if (base / name).is_dir():
                    folders[split] = base / name
                    break
        missing = [split for split in ("train", "validation") if split not in folders]
        if missing:
            raise DatasetLayoutError(
                f"{base}: no {' or '.join(missing)} folder. Expected train/, validation/ (and optionally "
                f"test/) in it, each with {EXPECTED_LAYOUT}"
            )
        if kwargs.get("task") != "regression":
            classes = _check_class_folders(folders)
            if classes:
                kwargs.setdefault("label_names", classes)
        return {split: cls.from_directory(folder, **kwargs) for split, folder in folders.items()}

    @classmethod
    def from_verdicts(
        cls, verdicts: str | os.PathLike[str] | Any, *, label_map: Any = None, **kwargs: Any
    ) -> LightCurveDataset:
        """Deprecated (until 0.2): use :func:`qusi_lab.vetting.dataset_from_verdicts` or
        :meth:`qusi_lab.vetting.VerdictStore.to_dataset`; verdicts -> the next training round lives with the verdicts.

        ``verdicts`` is a verdict file written by the vetting panel, or its DataFrame;
        ``label_map`` maps verdicts to labels (verdicts left out are dropped).

        Example
        -------
        >>> retrain = ql.vetting.dataset_from_verdicts(                      # doctest: +SKIP
        ...     "vetting/transit-labels.csv",
        ...     label_map={"planet candidate": "positive", "eclipsing binary": "negative"})
        """
        import importlib

        from qusi_lab._deprecation import warn_deprecated

        warn_deprecated("LightCurveDataset.from_verdicts is now qusi_lab.vetting.dataset_from_verdicts")
        # Looked up by name at call time, never imported statically: vetting comes after data in the flow, and
        # the layers contract (import-linter) forbids data -> vetting. This shim goes in 0.2.
        store = importlib.import_module("qusi_lab.vetting.store")
        dataset = store.dataset_from_verdicts(verdicts, label_map=label_map, **kwargs)
        if not isinstance(dataset, cls):
            raise TypeError(f"expected a {cls.__name__}, got {type(dataset).__name__}")
        return dataset

    @classmethod
    def from_light_curves(
        cls, light_curves: Iterable[Any], labels: Sequence[Any] | None = None, **kwargs: Any
    ) -> LightCurveDataset:
        """A dataset of light curves already in memory (qusi_lab or lightkurve ``LightCurve`` objects).

        Example
        -------
        >>> import lightkurve as lk
        >>> curves = [lk.LightCurve(time=np.arange(100.0), flux=np.ones(100)) for _ in range(2)]
        >>> LightCurveDataset.from_light_curves(curves, ["a", "b"], input_length=64).task
        'binary'
        """
        if "load" in kwargs:
            raise TypeError("from_light_curves needs no load= (the curves are already loaded)")
        curves = []
        for position, item in enumerate(light_curves):
            if isinstance(item, LightCurve):
                curves.append(item)
            elif hasattr(item, "time") and hasattr(item, "flux"):
                curves.append(LightCurve.from_lightkurve(item))
            else:
                raise TypeError(
                    f"light curve {position} is a {type(item).__name__}; expected a qusi_lab or lightkurve LightCurve"
                )
        return cls(curves, labels, load=_return_as_is, **kwargs)

    # ------------------------------------------------------------ properties
    @property
    def sources(self) -> list[Any]:
        """What each curve is loaded from (paths, usually)."""
        return list(self._sources)

    @property
    def task(self) -> str | None:
        """``"binary"``, ``"multiclass"``, ``"regression"``, or None for an unlabelled dataset."""
        return self._task

    @property
    def is_labelled(self) -> bool:
        """True when the dataset has labels."""
        return self._indices is not None or self._regression_targets is not None

    @property
    def label_names(self) -> tuple[str, ...]:
        """Class names in index order (empty for regression and unlabelled data)."""
        return self._label_names

    @property
    def positive_class(self) -> str | None:
        """Binary tasks: the class of label 1, whose score the network outputs."""
        return self._label_names[1] if self._task == "binary" and len(self._label_names) == 2 else None

    @property
    def labels(self) -> list[Any] | None:
        """The label of each curve: class names (classification), floats (regression) or None."""
        if self._class_names is not None:
            return list(self._class_names)
        if self._regression_targets is not None:
            return self._regression_targets.tolist()
        return None

    @property
    def targets(self) -> np.ndarray | None:
        """Encoded labels: class indices (int64) or regression targets (float64); None if unlabelled."""
        if self._indices is not None:
            return self._indices.copy()
        if self._regression_targets is not None:
            return self._regression_targets.copy()
        return None

    @property
    def target_ids(self) -> tuple[str, ...]:
        """The star each curve belongs to (see the ``target_ids`` argument)."""
        return self._target_ids

    @property
    def input_length(self) -> int:
        """Length of the network input ``x``."""
        return self._input_length

    @property
    def preprocessing(self) -> Any:
        """The deterministic pipeline that makes ``x`` from a light curve."""
        return self._preprocessing

    @property
    def augmentation(self) -> Any:
        """The augmentation pipeline training streams use (None: no augmentation)."""
        return self._augmentation

    @property
    def problem_log(self) -> ProblemLog:
        """The :class:`~qusi_lab.data.problems.ProblemLog` behind :attr:`problems`."""
        return self._problems

    @property
    def problems(self) -> Any:
        """Files skipped so far (by streams and :meth:`check`): a DataFrame with columns path, error, stage."""
        return self._problems.frame()

    def clear_problems(self) -> None:
        """Forget the recorded problems."""
        self._problems.clear()

    def class_counts(self) -> np.ndarray:
        """Number of curves per class, in :attr:`label_names` order."""
        if self._indices is None:
            raise ValueError("class counts need a labelled classification dataset")
        return np.bincount(self._indices, minlength=len(self._label_names))

    def source_name(self, index: int) -> str:
        """How errors and the problems table name curve ``index`` (its path, usually)."""
        return self._names[self._check_index(index)]

    # ------------------------------------------------------------ items
    def __len__(self) -> int:
        return len(self._sources)

    def _check_index(self, index: Any) -> int:
        position = int(index)
        size = len(self._sources)
        if not -size <= position < size:
            raise IndexError(f"index {position} out of range for a dataset of {size} light curves")
        return position % size

    def light_curve(self, index: int) -> LightCurve:
        """The raw light curve ``index`` as loaded (before preprocessing).

        Raises :class:`~qusi_lab.errors.LightCurveError` naming the file when it
        cannot be loaded (whatever the loader raised is chained as the cause).
        """
        position = self._check_index(index)
        source, name = self._sources[position], self._names[position]
        try:
            result = self._load(source)
            if _is_path(source) and isinstance(result, LightCurve) and getattr(
                    self._load.function, "_returns_validated", False):
                # The built-in readers validate what they return and name the file in its meta: what
                # as_light_curve would redo (a pass over every cadence, 5 % of scoring a sector).
                return result
            return as_light_curve(result, source, function_name=self._loader_name())
        except LightCurveError as error:
            raise _with_path(error, name) from error.__cause__
        except Exception as error:
            raise LightCurveReadError(describe_error(error), name) from error

    def _loader_name(self) -> str:
        return getattr(self._load.function, "__name__", "load")

    def target(self, index: int) -> torch.Tensor:
        """The label tensor of curve ``index``: float32 (binary, regression; NaN if unlabelled), int64 (multiclass)."""
        position = self._check_index(index)
        if self._indices is not None:
            if self._task == "multiclass":
                return torch.tensor(int(self._indices[position]), dtype=torch.int64)
            return torch.tensor(float(self._indices[position]), dtype=torch.float32)
        if self._regression_targets is not None:
            return torch.tensor(float(self._regression_targets[position]), dtype=torch.float32)
        return torch.tensor(float("nan"), dtype=torch.float32)

    def sample(
        self, index: int, rng: np.random.Generator | None = None, augment: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` for curve ``index``, augmented with ``rng`` when ``augment`` (used by streams).

        Raises :class:`~qusi_lab.errors.LightCurveError` naming the file, with an
        attribute ``stage`` (``"load"`` or ``"preprocess"``) telling where it failed.
        """
        position = self._check_index(index)
        name = self._names[position]
        try:
            lc = self.light_curve(position)
        except LightCurveError as error:
            error.stage = "load"  # type: ignore[attr-defined]
            raise
        pipeline = self._training_pipeline if augment else self._preprocessing
        # dataset[i] is deterministic: a seeded generator serves any random preprocessing step.
        generator = rng if (augment and rng is not None) else np.random.default_rng(self._first_position + position)
        try:
            array = pipeline.to_array(lc, rng=generator)
        except LightCurveError as error:
            failure = _with_path(error, name)
            failure.stage = "preprocess"  # type: ignore[attr-defined]
            raise failure from error
        except Exception as error:
            failure = LightCurveError(f"preprocessing failed: {describe_error(error)}", name)
            failure.stage = "preprocess"  # type: ignore[attr-defined]
            raise failure from error
        if array.shape != (self._input_length,):
            # A configuration mistake, not a bad file: fail loudly instead of skipping every curve.
            raise ValueError(
                f"{name}: preprocessing produced shape {array.shape}, but input_length is {self._input_length}; "
                "end the preprocessing with a step that fixes the length (e.g. BinToLength)"
            )
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), self.target(position)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``: preprocessed float32 flux of length ``input_length`` and label; never augmented."""
        return self.sample(index)

    def report_problem(self, index: int, error: BaseException, stage: str | None = None) -> None:
        """Record that curve ``index`` was skipped (streams call this; works in worker processes)."""
        stage = stage or getattr(error, "stage", None) or "load"
        self._problems.record(self.source_name(index), error, stage)

    # ------------------------------------------------------------ streams
    def iterate(self, indices: Sequence[int] | np.ndarray | None = None) -> EvaluationStream:
        """A finite, in-order :class:`~qusi_lab.data.streams.EvaluationStream` of ``(x, y, index)``.

        Example
        -------
        >>> loader = DataLoader(dataset.iterate(), batch_size=64, num_workers=2)  # doctest: +SKIP
        """
        return EvaluationStream(self, indices)

    def stream(
        self,
        seed: int = 0,
        balance: Any = None,
        augment: bool = True,
        *,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> TrainingStream:
        """An endless, random, augmented :class:`~qusi_lab.data.streams.TrainingStream` of ``(x, y)``.

        ``balance``: None (natural frequencies), ``"equal"``, or shares per class
        such as ``{"positive": 0.3, "negative": 0.7}``.

        Example
        -------
        >>> loader = DataLoader(dataset.stream(seed=0, balance="equal"), batch_size=64)  # doctest: +SKIP
        """
        return TrainingStream(
            self, seed=seed, balance=balance, augment=augment, max_consecutive_failures=max_consecutive_failures
        )

    # ------------------------------------------------------------ balance
    def class_weights(self, scheme: str = "inverse_frequency") -> torch.Tensor:
        """Loss weights that counter class imbalance.

        Binary: a one-element ``pos_weight`` for
        ``torch.nn.BCEWithLogitsLoss(pos_weight=dataset.class_weights())``
        (``n_negative / n_positive``). Multiclass: one weight per class for
        ``torch.nn.CrossEntropyLoss(weight=dataset.class_weights())``
        (``n / (n_classes * n_class)``). ``scheme="inverse_sqrt_frequency"``
        softens them, ``"none"`` gives ones. Do not combine with a balanced stream.
        """
        return class_weights(self.class_counts(), self._task, scheme)

    def sampler(
        self, balance: Any = "equal", num_samples: int | None = None, seed: int | None = None
    ) -> WeightedRandomSampler:
        """A ``WeightedRandomSampler`` drawing classes in the ``balance`` shares, for ``DataLoader(dataset, sampler=...)``.

        Example
        -------
        >>> loader = DataLoader(dataset, batch_size=64, sampler=dataset.sampler("equal"))  # doctest: +SKIP
        """
        if self._indices is None:
            raise ValueError("a balanced sampler needs a labelled classification dataset")
        probabilities = class_probabilities(balance, self._label_names, self.class_counts())
        weights = item_weights(self._indices, probabilities)
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        return WeightedRandomSampler(
            weights.tolist(),
            num_samples=len(self) if num_samples is None else int(num_samples),
            replacement=True,
            generator=generator,
        )

    # ------------------------------------------------------------ subsets and splits
    def subset(self, indices: Sequence[int] | np.ndarray) -> LightCurveDataset:
        """A dataset of the curves at ``indices``, with the same classes, pipelines and loader."""
        positions = [self._check_index(index) for index in np.asarray(indices, dtype=np.int64).reshape(-1)]
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._sources = [self._sources[p] for p in positions]
        new._names = [self._names[p] for p in positions]
        new._target_ids = tuple(self._target_ids[p] for p in positions)
        new._indices = None if self._indices is None else self._indices[positions]
        new._regression_targets = None if self._regression_targets is None else self._regression_targets[positions]
        new._class_names = None if self._class_names is None else tuple(self._class_names[p] for p in positions)
        new._problems = ProblemLog()
        return new

    def split(
        self, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0, stratify: bool = True
    ) -> tuple[LightCurveDataset, ...]:
        """Split into datasets with no target id in two of them, stratified by class.

        Example
        -------
        >>> train, validation, test = dataset.split((0.8, 0.1, 0.1), seed=0)  # doctest: +SKIP
        """
        classes = self._class_names if (stratify and self._class_names is not None) else None
        parts = split_by_target(self._target_ids, fractions, classes=classes, seed=seed)
        return tuple(self.subset(part) for part in parts)

    # ------------------------------------------------------------ checks and reports
    def check(self, num_workers: int = 0, batch_size: int = 32, progress: bool = False) -> Any:
        """Load and preprocess every curve once; return :attr:`problems` (empty when all is well).

        Worth running before a long training run: a bad flux column or a corrupt
        download shows up in seconds.
        """
        from torch.utils.data import DataLoader

        iterator = iter(DataLoader(self.iterate(), batch_size=batch_size, num_workers=num_workers))
        batches: Iterable[Any] = iterator
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(iterator, total=(len(self) + batch_size - 1) // batch_size, desc="checking")
        try:
            for _ in batches:
                pass
        finally:
            # Stop the workers now: an error's traceback keeps the iterator alive, and torch's shutdown at
            # garbage collection then waits 5 s per worker.
            getattr(iterator, "_shutdown_workers", lambda: None)()
        return self.problems

    def summary(self) -> Any:
        """A DataFrame of curves (and problems) per class, with a ``total`` row."""
        import pandas as pd

        problem_paths = set(self.problems["path"])
        problem_mask = np.array([name in problem_paths for name in self._names], dtype=bool)
        rows: dict[str, dict[str, Any]] = {}
        if self._indices is not None:
            counts = self.class_counts()
            for klass, name in enumerate(self._label_names):
                members = self._indices == klass
                rows[name] = {
                    "curves": int(counts[klass]),
                    "fraction": float(counts[klass] / max(len(self), 1)),
                    "targets": int(len({self._target_ids[p] for p in np.flatnonzero(members)})),
                    "problems": int(problem_mask[members].sum()),
                }
        rows["total"] = {
            "curves": len(self),
            "fraction": 1.0,
            "targets": len(set(self._target_ids)),
            "problems": int(problem_mask.sum()),
        }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "class" if self._indices is not None else None
        return frame

    def __repr__(self) -> str:
        parts = [f"{len(self):,} light curves", f"task={self._task!r}" if self._task else "unlabelled"]
        if self._indices is not None:
            counts = self.class_counts()
            classes = ", ".join(f"{name}={count:,}" for name, count in zip(self._label_names, counts, strict=True))
            parts.append(f"classes: {classes}")
        elif self._regression_targets is not None and self._regression_targets.size:
            parts.append(f"targets {self._regression_targets.min():g}..{self._regression_targets.max():g}")
        parts.append(f"input_length={self._input_length}")
        problems = len(self._problems)
        if problems:
            parts.append(f"{problems} problems")
        return f"{type(self).__name__}({', '.join(parts)})"

    def plot(self, index: int, ax: Any = None, *, axes: Any = None) -> Any:
        """Plot curve ``index``: the raw light curve and the network input; returns the two axes.

        ``ax``: two matplotlib axes to draw into (raw curve, network input); default a new figure.
        (``axes=`` is the old spelling of ``ax=``: it still works, with a ``DeprecationWarning``, until 0.2.)
        """
        import matplotlib.pyplot as plt

        if axes is not None:
            from qusi_lab._deprecation import warn_deprecated

            warn_deprecated("LightCurveDataset.plot(axes=) is now plot(ax=), as everywhere else")
            if ax is None:
                ax = axes
        if ax is None:
            _, ax = plt.subplots(2, 1, figsize=(10, 5), constrained_layout=True)
        from qusi_lab.core.plotting import panel_axes

        _, axes = panel_axes(ax, 2, figsize=(10, 5), what="LightCurveDataset.plot")
        raw_axis, input_axis = axes
        lc = self.light_curve(index)
        lc.plot(ax=raw_axis)
        x, y = self[index]
        input_axis.plot(np.arange(x.numel()), x.numpy(), color="tab:blue", linewidth=0.7)
        input_axis.set_xlabel("input bin")
        input_axis.set_ylabel("network input")
        label = ""
        if self._class_names is not None:
            label = f" — label {self._class_names[self._check_index(index)]}"
        elif self._regression_targets is not None:
            label = f" — target {float(y):g}"
        raw_axis.set_title(f"{Path(self.source_name(index)).name}{label}")
        return axes
