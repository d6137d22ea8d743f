"""lm-eval run directly, the way a user runs it, to compare Eval Hub's scores with."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TASKS = Path(__file__).resolve().parent / "tasks"
SEED = 1234


def direct(model: str, model_args: str, tasks: list[str], *, chat: bool, **kwargs: Any) -> dict[str, Any]:
    """``lm_eval.simple_evaluate`` from the tasks' directory (their data_files are relative)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    here = os.getcwd()
    os.chdir(TASKS)
    try:
        results = lm_eval.simple_evaluate(
            model=model,
            model_args=model_args,
            tasks=tasks,
            task_manager=TaskManager(include_path=str(TASKS), include_defaults=False),
            apply_chat_template=chat,
            random_seed=SEED,
            numpy_random_seed=SEED,
            torch_random_seed=SEED,
            fewshot_random_seed=SEED,
            **kwargs,
        )
    finally:
        os.chdir(here)
    assert results is not None
    return results
