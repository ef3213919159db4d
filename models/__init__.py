"""Torch search spaces for the NAS front end.

* :mod:`models.ops` -- 1-D candidate ops (none, skip, conv3, conv5, avgpool3), costs.
* :mod:`models.cell` -- DARTS-like cell spaces ``cell3`` (125 archs) and ``cell4`` (625):
  :class:`CellNet` (discrete) and :class:`CellSupernet` (softmax-relaxed, one alpha tensor);
  collapse detectors ``is_parameter_free``, ``is_dead``, ``effective_genotype``.
* :mod:`models.choice` -- :class:`Choice` (named candidate ops) and :class:`Zero`: the
  search-space API any ``nn.Module`` can use (``nas_frontend.Choice``).
* :mod:`models.nb201` -- :class:`NB201Net`, a NAS-Bench-201-style cell (6 edges x 5 ops,
  15,625 cells) written with Choices.
* :mod:`models.mlp` -- residual MLP space ``mlp`` (depth 1-3, width, activation; 258 archs):
  :class:`MLPNet` and :class:`MLPSupernet`.
* :mod:`models.spaces` -- one dispatching API over the three spaces.
* :mod:`models.data` -- MNIST-1D, scikit-learn digits and two moons as tensors with fixed
  splits.
* :mod:`models.train` -- the fixed training recipe of the NAS ground-truth tables.

Supernets expose ``arch_parameters()``, ``weight_parameters()``,
``named_weight_parameters()``, ``probabilities()``, ``derive()``, ``extract(genotype)``,
``expected_params(probs)`` / ``expected_flops(probs)`` (linear in the probabilities) and
``resource_coefficients(kind)`` -> (const, coef matrix) for linear constraints.

Importing the package imports no torch: it gives the space and data-set names
(:mod:`models.names`; the command line offers them as choices) and loads the rest, which
needs torch, on first use (without torch: ``MissingExtraError`` naming the extra).
"""

import importlib
import sys
import types

from .names import DATASETS, SPACE_NAMES

_TORCH_NAMES = {
    "choice": ("Choice", "Zero"),
    "nb201": ("NB201Net", "NB201_OPS", "NB201_EDGES"),
    "cell": ("CELL_SPACES", "CellNet", "CellSpace", "CellSupernet", "MixedOp",
             "effective_genotype", "is_dead"),
    "data": ("load",),
    "mlp": ("BLOCK_NAMES", "SLOT_OPS", "MLPNet", "MLPSupernet"),
    "ops": ("CONV_OPS", "OP_NAMES", "OPS", "flops", "param_count"),
    "spaces": ("all_genotypes", "exact_flops", "exact_params", "genotype_str",
               "is_parameter_free", "make_net", "make_supernet", "parse_genotype", "validate"),
    "train": ("RECIPE", "evaluate", "train"),
}
"""Submodule -> the torch-backed names this package re-exports from it (loaded on first
use, so that ``import models.names`` -- the command line's choices -- imports no torch)."""


def _load_torch_names() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        from bilevel_mp.errors import MissingExtraError  # torch: optional

        raise MissingExtraError("the NAS search spaces (models) need torch (not installed): "
                                "pip install 'bilevel-mp[nas]'") from None
    for mod, names in _TORCH_NAMES.items():
        module = importlib.import_module(f".{mod}", __name__)
        globals().update({n: getattr(module, n) for n in names})   # models.train: the function


def __getattr__(name):
    if any(name in names for names in _TORCH_NAMES.values()):
        _load_torch_names()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """``models.train`` is the function :func:`models.train.train`, as the package re-exports
    it, although the submodule has the same name: importing the submodule (``from
    models.train import train``) binds the package attribute to the module, so that binding
    is redirected to the function the module defines."""

    def __setattr__(self, name, value):
        if name == "train" and isinstance(value, types.ModuleType):
            value = value.train
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "BLOCK_NAMES", "CELL_SPACES", "CONV_OPS", "CellNet", "CellSpace", "CellSupernet", "Choice",
    "NB201Net", "NB201_EDGES", "NB201_OPS", "Zero",
    "DATASETS", "MLPNet", "MLPSupernet", "MixedOp", "OPS", "OP_NAMES", "RECIPE", "SLOT_OPS",
    "effective_genotype",
    "SPACE_NAMES", "all_genotypes", "evaluate", "exact_flops", "exact_params", "flops",
    "genotype_str", "is_dead", "is_parameter_free", "load", "make_net", "make_supernet",
    "param_count", "parse_genotype", "train", "validate",
]
