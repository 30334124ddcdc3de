"""The server's optimiser (docs/training.md): making it, and checking a state dict for it
before a checkpoint's state is loaded into it."""

from __future__ import annotations

import torch

from .._validation import choice, describe, plain_differences, positive_float, real_number
from ._names import OPTIMIZERS

#: The buffers each algorithm keeps per parameter.
_BUFFERS = {"sgd": {"momentum_buffer"}, "adam": {"step", "exp_avg", "exp_avg_sq"}}


def make_optimizer(name: str, params, *, lr: float, momentum: float = 0.9
                   ) -> torch.optim.Optimizer:
    """The server's optimiser: ``"sgd"`` (with ``momentum``) or ``"adam"``, learning rate ``lr``."""
    choice("optimizer", name, OPTIMIZERS)
    lr = positive_float("lr", real_number("lr", lr))
    if isinstance(momentum, bool) or not (isinstance(momentum, (int, float))
                                          and 0 <= momentum < 1):
        raise ValueError(f"momentum: must be in [0, 1), got {describe(momentum)}")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    return torch.optim.Adam(params, lr=lr)


def read_optimizer_state(state, optimizer: torch.optim.Optimizer, name: str,
                         params: list[torch.nn.Parameter]) -> dict:
    """``state`` as a state dict of ``optimizer`` (made by :func:`make_optimizer` as ``name``
    over ``params``), checked: the same parameter groups (hyper-parameters included) and, per
    parameter, the buffers the algorithm keeps with the parameter's shape and dtype. A
    ``ValueError`` starting with ``checkpoint:`` names what is wrong."""
    if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
        raise ValueError("checkpoint: optimizer must be a state dict of the optimiser")
    differences = plain_differences(state["param_groups"], optimizer.state_dict()["param_groups"])
    if differences:
        raise ValueError("checkpoint: optimizer has other parameter groups ("
                         + "; ".join(differences) + ")")
    buffers = _BUFFERS[name]
    per_parameter = state["state"]
    if not isinstance(per_parameter, dict):
        raise ValueError("checkpoint: optimizer.state must be a dict")
    for index, entry in per_parameter.items():
        if type(index) is not int or not 0 <= index < len(params):
            raise ValueError("checkpoint: optimizer.state has an unknown parameter index")
        if not isinstance(entry, dict) or set(entry) != buffers:
            raise ValueError(f"checkpoint: optimizer.state[{index}] must hold "
                             f"{sorted(buffers)}")
        for key, tensor in entry.items():
            if key == "step":
                ok = (isinstance(tensor, torch.Tensor) and tensor.dim() == 0
                      and tensor.dtype.is_floating_point
                      and bool(torch.isfinite(tensor)) and float(tensor) >= 0)
            elif key == "momentum_buffer" and tensor is None:
                ok = True
            else:
                ok = (isinstance(tensor, torch.Tensor)
                      and tensor.shape == params[index].shape
                      and tensor.dtype == params[index].dtype)
            if not ok:
                raise ValueError(f"checkpoint: optimizer.state[{index}].{key} does not fit "
                                 "its parameter")
    return state
