"""Numpy helpers around the auxiliary descent program: the hypergradient its data
implies, and block-Krylov bases for its ``basis=`` / ``test=`` (matrix-free case).

No torch, no scikit-learn: ``hvp`` is any callable returning H v as an array.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import LinearOperator, minres

from .descent import DescentProgram

__all__ = ["hypergradient", "krylov_basis"]


def hypergradient(prog: DescentProgram) -> np.ndarray:
    """dF/dx along the follower's implicit response, from the program's data:
    grad_x − H_yxᵀ H_yy⁻¹ grad_y (dense solve, or MINRES on ``hvp_yy`` when matrix-free).
    Exact where the follower is stationary (r0 = 0) and H_yy is nonsingular."""
    m = prog.m
    if prog.H_yy is not None:
        try:
            v = linalg.solve(prog.H_yy, prog.grad_y, assume_a="sym")
        except (linalg.LinAlgError, ValueError):
            v = np.linalg.lstsq(prog.H_yy, prog.grad_y, rcond=None)[0]
    else:
        op = LinearOperator((m, m), matvec=lambda u: np.asarray(prog.hvp_yy(u), float))
        v, _ = minres(op, prog.grad_y, rtol=1e-10, maxiter=10 * m)
    if prog.H_yx is not None:
        return prog.grad_x - prog.H_yx.T @ v
    if prog.mvp_xy is not None:
        return prog.grad_x - np.asarray(prog.mvp_xy(v), float)
    return prog.grad_x - np.array([np.asarray(prog.mvp_yx(e), float) @ v for e in np.eye(prog.n)])


def krylov_basis(hvp: Callable[[np.ndarray], np.ndarray], start: np.ndarray, depth: int,
                 rtol: float = 1e-8) -> np.ndarray:
    """Orthonormal basis of the block Krylov space span{S, HS, …, H^depth S} of the
    symmetric operator ``hvp`` from the start block S (m×b); numerically dependent
    directions are dropped. Used as ``basis=`` (and ``test=``) of the descent program."""
    def orth(Z, ref):
        if Z.shape[1] == 0:
            return Z
        U, s, _ = np.linalg.svd(Z, full_matrices=False)
        return U[:, s > rtol * max(ref, 1e-300)]

    S = np.asarray(start, float)
    S = S[:, np.linalg.norm(S, axis=0) > 0]
    Q = orth(S, np.linalg.norm(S, 2) if S.size else 0.0)
    basis = [Q]
    for _ in range(depth):
        if Q.shape[1] == 0:
            break
        Z = np.column_stack([np.asarray(hvp(Q[:, j]), float) for j in range(Q.shape[1])])
        ref = np.linalg.norm(Z, 2)
        V = np.hstack(basis)
        for _ in range(2):  # re-orthogonalise
            Z = Z - V @ (V.T @ Z)
        Q = orth(Z, ref)
        basis.append(Q)
    return np.hstack(basis)
