"""Torch search spaces for the NAS front end.

* :mod:`models.ops` -- 1-D candidate ops (none, skip, conv3, conv5, avgpool3), costs.
* :mod:`models.cell` -- DARTS-like cell spaces ``cell3`` (125 archs) and ``cell4`` (625):
  :class:`CellNet` (discrete) and :class:`CellSupernet` (softmax-relaxed, one alpha tensor);
  collapse detectors ``is_parameter_free``, ``is_dead``, ``effective_genotype``.
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

Without torch, importing the package gives only the space and data-set names
(:mod:`models.names`; the command line offers them as choices); the rest needs torch.
"""

from importlib.util import find_spec

from .names import DATASETS, SPACE_NAMES

if find_spec("torch") is not None:      # without torch: only the names (the CLI's choices)
    from .cell import (CELL_SPACES, CellNet, CellSpace, CellSupernet, MixedOp,
                       effective_genotype, is_dead)
    from .data import load
    from .mlp import BLOCK_NAMES, SLOT_OPS, MLPNet, MLPSupernet
    from .ops import CONV_OPS, OP_NAMES, OPS, flops, param_count
    from .spaces import (all_genotypes, exact_flops, exact_params, genotype_str,
                         is_parameter_free, make_net, make_supernet, parse_genotype, validate)
    from .train import RECIPE, evaluate, train

__all__ = [
    "BLOCK_NAMES", "CELL_SPACES", "CONV_OPS", "CellNet", "CellSpace", "CellSupernet",
    "DATASETS", "MLPNet", "MLPSupernet", "MixedOp", "OPS", "OP_NAMES", "RECIPE", "SLOT_OPS",
    "effective_genotype",
    "SPACE_NAMES", "all_genotypes", "evaluate", "exact_flops", "exact_params", "flops",
    "genotype_str", "is_dead", "is_parameter_free", "load", "make_net", "make_supernet",
    "param_count", "parse_genotype", "train", "validate",
]
