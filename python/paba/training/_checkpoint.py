"""Checkpoints of partitioned training (docs/training.md section 5): the run's fingerprint, the
atomic writer and the checked reader.

A checkpoint holds only tensors and plain data: the format and its version, the fingerprint of
everything that determines the run, the model's and the optimiser's state dicts, PyTorch's
random state and the run's own state (:meth:`RunState.state_dict`). It is read with
``torch.load(weights_only=True)``, which runs no code from the file, and every part is checked
before the trainer is changed.
"""

from __future__ import annotations

import hashlib
import os
import pickletools
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .._scheduler import Scheduler
from .._validation import describe, exactly, plain_differences
from ._data import Dataset
from ._optimizer import make_optimizer, read_optimizer_state
from ._partition import ModelPartition, trainable_parameters
from ._state import STATE_KEYS, RunState


class _Trainer(Protocol):
    """What a checkpoint reads of the trainer (``_Trainer``)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    optimizer_name: str
    lr: float
    momentum: float
    seed: int
    eval_every: int
    scheduler: Scheduler
    partition: ModelPartition
    data: Dataset
    groups: np.ndarray
    n_groups: int
    _shards: list[torch.Tensor]
    _fingerprint: dict

#: Name and version of the checkpoint format (docs/training.md section 5). Version 1 was a
#: pickle of live objects; version 2 holds only tensors and plain data.
CHECKPOINT_FORMAT = "paba.training checkpoint"
CHECKPOINT_VERSION = 2

#: Every key of a checkpoint: the trainer's parts, then the run's (RunState.state_dict).
_KEYS = {"format", "version", "fingerprint", "model", "optimizer", "torch_rng", *STATE_KEYS}


def _digest(arrays) -> str:
    """SHA-256 of a sequence of arrays: dtype, shape and bytes of each."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _tensor_digest(state: dict) -> str:
    """SHA-256 of a state dict of tensors: names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def fingerprint(trainer: _Trainer) -> dict:
    """Everything that determines the run, as plain data: a checkpoint is resumed only by a
    trainer with the same fingerprint. The budget and the iteration limit are not in it: a
    run that stopped at one goes on to another (see ``PartitionedTrainer.run``). Taken when
    the trainer is built (the model's weights then)."""
    data = trainer.data
    parameters = [[name, list(p.shape), str(p.dtype)]
                  for name, p in trainer.model.named_parameters() if p.requires_grad]
    return {
        "scheme": trainer.scheduler.scheme, "scheduler": trainer.scheduler.settings(),
        "granularity": trainer.partition.granularity, "params": trainer.partition.n_params,
        "model_parameters": parameters,
        "model_weights": _tensor_digest(trainer.model.state_dict()),
        "data": _digest([data.x_train, data.y_train, data.x_test, data.y_test]),
        "shards": _digest([s.numpy() for s in trainer._shards]),
        "optimizer": trainer.optimizer_name, "lr": float(trainer.lr),
        "momentum": float(trainer.momentum), "seed": trainer.seed,
        "eval_every": trainer.eval_every,
    }


def save(trainer: _Trainer, state: RunState, path: str | os.PathLike) -> None:
    """Write the trainer's run ``state`` to ``path`` atomically (a temporary file in the same
    directory, then a rename)."""
    payload = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "fingerprint": trainer._fingerprint,
        "model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        **state.state_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(trainer: _Trainer, path: str | os.PathLike) -> RunState:
    """The run saved in ``path`` by :func:`save`, loaded into ``trainer`` (its model, optimiser
    and PyTorch's random state) only once every part has passed its checks; the run's state is
    returned for the trainer to take. Any failure is a ``ValueError`` starting with
    ``checkpoint:`` and leaves the trainer as it was."""
    shown = os.fspath(path)
    try:
        with warnings.catch_warnings():  # torch's remarks on a foreign file's protocol
            warnings.simplefilter("ignore")
            data = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # noqa: BLE001 - whatever the file is, it is not ours
        if _is_old_pickled_checkpoint(path):
            raise ValueError(
                f"checkpoint: {shown} is a checkpoint of an older paba (format version 1, "
                f"a pickle of live objects), which cannot be loaded safely; delete it, or "
                f"choose another checkpoint, to start the run afresh") from None
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(f"checkpoint: cannot read {shown} as a paba training checkpoint "
                         f"({type(error).__name__}: {reason[:200]})") from None
    try:
        parts = _read(trainer, data, shown)
    except ValueError as error:
        message = str(error)
        if message.startswith("checkpoint: "):
            message = message[len("checkpoint: "):]
        if not message.startswith(shown):
            message = f"{shown}: {message}"
        raise ValueError(f"checkpoint: {message}") from None
    except Exception as error:  # noqa: BLE001 - a malformed file must not crash the caller
        raise ValueError(f"checkpoint: {shown} is malformed ({type(error).__name__}: "
                         f"{describe(str(error), 200)})") from None
    return _apply(trainer, parts, shown)


def _is_old_pickled_checkpoint(path) -> bool:
    """Whether ``path`` is a version-1 checkpoint (a torch zip whose pickle names paba's
    classes), found by reading the pickle's opcodes, never by running them."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1 or archive.getinfo(names[0]).file_size > 1 << 26:
                return False
            data = archive.read(names[0])
        for _, argument, _ in pickletools.genops(data):
            # A global of paba's modules (GLOBAL's "module name", or STACK_GLOBAL's module).
            if isinstance(argument, str) and argument.startswith(("paba._", "paba.training._")):
                return True
    except Exception:  # noqa: BLE001 - any unreadable file is simply not an old checkpoint
        return False
    return False


def _read(trainer: _Trainer, data, shown: str) -> dict[str, Any]:
    """The checked parts of a loaded checkpoint; changes nothing."""
    if not isinstance(data, dict) or not exactly(data.get("format"), CHECKPOINT_FORMAT):
        if isinstance(data, dict) and exactly(data.get("version"), 1):
            raise ValueError(f"checkpoint: {shown} is a checkpoint of an older paba (format "
                             f"version 1); delete it to start the run afresh")
        raise ValueError(f"checkpoint: {shown} is not a paba training checkpoint")
    if not exactly(data.get("version"), CHECKPOINT_VERSION):
        raise ValueError(f"checkpoint: {shown} has format version "
                         f"{describe(data.get('version'))}; this paba reads version "
                         f"{CHECKPOINT_VERSION}")
    if set(data) != _KEYS:
        raise ValueError(f"checkpoint: {shown} must hold exactly the keys {sorted(_KEYS)}")
    differences = plain_differences(data["fingerprint"], trainer._fingerprint)
    if differences:
        raise ValueError(f"checkpoint: {shown} was written by a different run ("
                         + "; ".join(differences) + "); resume it with the options it was "
                         "written with, or choose another checkpoint")
    model = _read_model_state(trainer.model, data["model"])
    optimizer = read_optimizer_state(data["optimizer"], trainer.optimizer, trainer.optimizer_name,
                                     trainable_parameters(trainer.model))
    torch_rng = data["torch_rng"]
    reference_rng = torch.get_rng_state()
    if not isinstance(torch_rng, torch.Tensor) or torch_rng.dtype != reference_rng.dtype \
            or torch_rng.shape != reference_rng.shape:
        raise ValueError("checkpoint: torch_rng must be a state of PyTorch's generator")
    state = RunState.from_state(
        {key: data[key] for key in STATE_KEYS}, scheduler=trainer.scheduler,
        groups=trainer.groups, n_groups=trainer.n_groups, n_params=trainer.partition.n_params,
        unit_totals=trainer.partition.granules.counts, eval_every=trainer.eval_every,
        shown=shown)
    return {"model": model, "optimizer": optimizer, "torch_rng": torch_rng.clone(),
            "state": state}


def _read_model_state(model: torch.nn.Module, state) -> dict:
    expected = model.state_dict()
    if not isinstance(state, dict) or list(state) != list(expected):
        raise ValueError("checkpoint: model must hold this model's state (same names)")
    out = {}
    for name, reference in expected.items():
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != reference.dtype \
                or tensor.shape != reference.shape:
            raise ValueError(f"checkpoint: model.{name} must be a {reference.dtype} tensor "
                             f"of shape {tuple(reference.shape)}")
        out[name] = tensor
    return out


def _apply(trainer: _Trainer, parts: dict[str, Any], shown: str) -> RunState:
    """Load checked parts into the trainer's model and optimiser. PyTorch's random state is set
    first and put back if it is refused, so that a failure leaves the trainer as it was."""
    saved_rng = torch.get_rng_state()
    try:
        torch.set_rng_state(parts["torch_rng"])
    except Exception as error:  # noqa: BLE001 - a damaged generator state
        torch.set_rng_state(saved_rng)
        raise ValueError(f"checkpoint: {shown}: torch_rng is not a valid generator state "
                         f"({type(error).__name__})") from None
    scratch = make_optimizer(trainer.optimizer_name,
                             [p.detach().clone().requires_grad_(True)
                              for p in trainable_parameters(trainer.model)],
                             lr=trainer.lr, momentum=trainer.momentum)
    try:
        scratch.load_state_dict(parts["optimizer"])
    except Exception as error:  # noqa: BLE001 - a state the optimiser refuses
        torch.set_rng_state(saved_rng)
        raise ValueError(f"checkpoint: {shown}: the optimiser refuses its state "
                         f"({type(error).__name__}: {describe(str(error), 200)})") from None
    with torch.no_grad():
        trainer.model.load_state_dict(parts["model"])
    trainer.optimizer.load_state_dict(parts["optimizer"])
    return parts["state"]
