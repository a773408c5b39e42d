"""training/loop.py split by job (issue 13): train() keeps its keywords, the old names still resolve from loop."""

from __future__ import annotations

import importlib
import inspect

import pytest

from qusi_lab.training import loop, train
from qusi_lab.training.settings import OPTION_NAMES


def test_every_keyword_of_train_is_an_option_and_nothing_else() -> None:
    # train() hands its keyword arguments to settings.Options by name: the two lists must be the same.
    keywords = {
        name for name, parameter in inspect.signature(train).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert len(keywords) == 30  # besides model, train and validation
    assert keywords == OPTION_NAMES


def test_public_names_of_loop_stay_importable_without_a_warning(recwarn: pytest.WarningsRecorder) -> None:
    from qusi_lab.training.loop import OPTIMIZERS, SCHEDULERS, VALIDATION_CACHE_BYTES, TrainingResult
    from qusi_lab.training.result import TrainingResult as moved

    assert TrainingResult is moved and OPTIMIZERS == ("adamw", "adam", "sgd") and SCHEDULERS == ("cosine", "constant")
    assert VALIDATION_CACHE_BYTES == 512 * 1024**2
    assert not [warning for warning in recwarn if issubclass(warning.category, DeprecationWarning)]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("_derived_seed", "qusi_lab.training.settings:derived_seed"),
        ("_time_budget_schedule", "qusi_lab.training.schedules:time_budget_schedule"),
        ("_Validator", "qusi_lab.training.validation:Validator"),
        ("_problems", "qusi_lab.training.result:problems_table"),
        ("_stop_workers", "qusi_lab.training.interrupts:stop_workers"),
        ("_check_data", "qusi_lab.training.resume:check_data"),
        ("_LoopState", "qusi_lab.training.resume:LoopState"),
    ],
)
def test_old_helper_names_warn_and_return_the_moved_object(old: str, new: str) -> None:
    module_name, name = new.split(":")
    with pytest.warns(DeprecationWarning, match=f"{module_name}.{name}"):
        value = getattr(loop, old)
    assert value is getattr(importlib.import_module(module_name), name)
    assert not hasattr(loop, "_no_such_helper")
