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
    assert len(keywords) == 32  # besides model, train and validation
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


def test_keep_best_keeps_better_weights_writes_best_pt_and_counts_the_others(tmp_path) -> None:
    import torch

    from qusi_lab.training.resume import LoopState
    from qusi_lab.training.validation import keep_best

    network = torch.nn.Linear(2, 1)
    state = LoopState(step=10)
    assert keep_best(state, {"loss": 0.5, "auc_roc": 0.8}, "auc_roc", 0.0, network, tmp_path)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert saved["step"] == 10 and saved["metrics"] == {"loss": 0.5, "auc_roc": 0.8}
    assert state.best_weights is not None and torch.equal(state.best_weights["weight"], network.weight)
    with torch.no_grad():
        network.weight.add_(1.0)  # the kept copy does not follow the network
    assert not torch.equal(state.best_weights["weight"], network.weight)
    state.step = 20  # a worse validation: counted, nothing kept
    assert not keep_best(state, {"loss": 0.6, "auc_roc": 0.7}, "auc_roc", 0.0, network, tmp_path)
    assert (state.best_step, state.bad_validations) == (10, 1)
    state.step = 30  # the same AUC with a lower loss wins (a saturated metric)
    assert keep_best(state, {"loss": 0.4, "auc_roc": 0.8}, "auc_roc", 0.0, network, None)
    assert (state.best_step, state.bad_validations) == (30, 0)
    assert torch.load(tmp_path / "best.pt", weights_only=True)["step"] == 10  # no folder: best.pt untouched
    with pytest.raises(ValueError, match="not a validation metric"):
        keep_best(state, {"loss": 0.4}, "auc_pr", 0.0, network, None)
