"""One entry point for every search space: ``cell3``, ``cell4`` (cell spaces, see
:mod:`models.cell`) and ``mlp`` (see :mod:`models.mlp`).

Sizes come from the data: ``n_features`` is the signal length / flat input size and
``n_classes`` the number of classes (MNIST-1D: 40 and 10).
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from . import cell, mlp
from .names import SPACE_NAMES, check_space  # noqa: F401  (re-exported)


def validate(space: str, genotype: Sequence[str] | str) -> tuple[str, ...]:
    """Canonical tuple form of ``genotype`` in ``space`` (ValueError if invalid)."""
    if check_space(space) == "mlp":
        return mlp.validate_genotype(genotype)
    return cell.validate_genotype(genotype, space)


def all_genotypes(space: str) -> list[tuple[str, ...]]:
    """Every architecture of ``space``: cell3 125, cell4 625, mlp 258."""
    if check_space(space) == "mlp":
        return mlp.all_genotypes()
    return cell.all_genotypes(space)


def make_net(space: str, genotype, n_features: int = 40, n_classes: int = 10,
             **kwargs) -> nn.Module:
    """Discrete network (:class:`CellNet` or :class:`MLPNet`) for ``genotype``."""
    if check_space(space) == "mlp":
        return mlp.MLPNet(genotype, in_features=n_features, num_classes=n_classes, **kwargs)
    return cell.CellNet(genotype, space, num_classes=n_classes, length=n_features, **kwargs)


def make_supernet(space: str, n_features: int = 40, n_classes: int = 10,
                  **kwargs) -> nn.Module:
    """Supernet (:class:`CellSupernet` or :class:`MLPSupernet`) of ``space``."""
    if check_space(space) == "mlp":
        return mlp.MLPSupernet(in_features=n_features, num_classes=n_classes, **kwargs)
    return cell.CellSupernet(space, num_classes=n_classes, length=n_features, **kwargs)


def exact_params(space: str, genotype, n_features: int = 40, n_classes: int = 10) -> int:
    """Exact trainable parameter count of ``make_net(space, genotype, ...)`` (default sizes)."""
    if check_space(space) == "mlp":
        return mlp.genotype_params(genotype, n_features, n_classes)
    return cell.genotype_params(genotype, space, num_classes=n_classes)


def exact_flops(space: str, genotype, n_features: int = 40, n_classes: int = 10) -> int:
    """Exact multiply-accumulates per sample of ``make_net(space, genotype, ...)``."""
    if check_space(space) == "mlp":
        return mlp.genotype_flops(genotype, n_features, n_classes)
    return cell.genotype_flops(genotype, space, num_classes=n_classes, length=n_features)


def is_parameter_free(space: str, genotype) -> bool:
    """Collapse detector: a cell with no convolution (always False for ``mlp``)."""
    g = validate(space, genotype)
    return False if space == "mlp" else cell.is_parameter_free(g)


def genotype_str(genotype: Sequence[str]) -> str:
    """``"a|b|c"`` string form (the CSV column)."""
    return "|".join(genotype)


def parse_genotype(s: str) -> tuple[str, ...]:
    """Inverse of :func:`genotype_str` (no validation)."""
    return tuple(s.split("|"))
