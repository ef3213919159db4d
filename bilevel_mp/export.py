"""``bilevel_mp.export``: write the single-level reformulation a method would solve to an
MPS or LP file, for inspection or for another solver (as BilevelJuMP's ``write_to_file``).

    info = bmp.export(problem, "model.mps", method="kkt", mode="sos1")
    info.x_columns        # column names of the leader's variables, in order

The file is the model ``bmp.solve(problem, method=...)`` hands its back end, before any
time limit: the lifted copies of x and y, the follower's optimality conditions written by
the method, bounds from the high-point relaxation, and the leader's objective in
minimisation form (``OBJSENSE MIN``; a maximised F is written negated). SOS1 sets go to the
file's SOS section; products (strong duality with x in the follower's rows, a quadratic F)
are written as quadratic terms, which MPS readers accept in the objective only for some
solvers. Indicator constraints have no MPS or LP form here: ``mode="indicator"`` and
follower_dual models with multiplier-times-binary products are refused with the reason.
Nothing is certified: a point read back from another solver can be checked with
``bilevel_mp.core.certify.certify``. Big-M models need a tight integrality tolerance (the
HiGHS back end uses 1e-9): a binary of 1e-6 times M leaks through a complementarity pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyomo.environ as pyo

from .core.lifted import HPR
from .errors import BilevelInputError, UnsupportedStructureError
from .frontends import as_problem
from .methods import check_accepts, get_method, settings_for
from .structure import detect

EXPORTABLE = ("kkt", "strong_duality", "follower_dual")
FORMATS = {".mps": "mps", ".lp": "lp"}


@dataclass
class ExportInfo:
    """What was written: the file, its format, the columns of x and y (in the problem's
    order, as named in the file; None for a variable the model leaves out, e.g. y in the
    follower_dual model of a follower whose rows do not involve x), the follower
    multipliers' columns, and the model's size."""

    path: Path
    format: str
    method: str
    x_columns: list[str | None]
    y_columns: list[str | None]
    dual_columns: dict = field(default_factory=dict)  # follower constraint name -> column
    n_columns: int = 0
    n_rows: int = 0
    n_sos1: int = 0
    exact: bool = True  # the model's optimum is the bilevel optimum (no assumed bounds)
    assumptions: list = field(default_factory=list)


def export(problem, path, method: str = "kkt", **settings) -> ExportInfo:
    """Write ``method``'s single-level model of ``problem`` to ``path``.

    Parameters
    ----------
    problem : BilevelProblem, Pyomo model, dict or converted model
        Anything ``bilevel_mp.solve`` accepts.
    path : str or Path
        The file to write; its suffix picks the format, ``.mps`` (free MPS) or ``.lp``
        (CPLEX LP).
    method : str, default "kkt"
        One of ``EXPORTABLE``: "kkt", "strong_duality", "follower_dual".
    **settings
        The method's settings, e.g. ``mode="bigm", dual_bound=1e4`` (kkt) or
        ``form="gap"`` (strong_duality); ``solver`` and ``verbose`` are accepted and ignored.

    Returns
    -------
    ExportInfo

    Raises
    ------
    BilevelInputError
        Unknown method, format or setting; a model with indicator constraints.
    UnsupportedStructureError
        The method cannot treat this problem class.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BilevelInputError(f"cannot tell the format of {path.name!r}: use a .mps or .lp suffix")
    if method not in EXPORTABLE:
        raise BilevelInputError(f"method {method!r} builds no single model to export; choose one of "
                                f"{list(EXPORTABLE)}")
    problem, _ = as_problem(problem)
    problem.validate()
    module = get_method(method)
    chosen = settings_for(method, settings)
    structure = detect(problem)
    check_accepts(method, problem, structure, chosen)
    lifted = module.reduction(chosen).apply(problem, structure, time_limit=None, cache=HPR())
    if lifted.hpr.get("infeasible"):
        raise UnsupportedStructureError(f"{problem.name}: the high-point relaxation is infeasible, "
                                        "so there is no model to export (bmp.solve says so too)")
    slm = lifted.slm
    if slm.indicators:
        raise BilevelInputError(
            f"the {method} model of {problem.name} has {len(slm.indicators)} indicator constraint(s), "
            "which MPS and LP files cannot hold here: use mode='sos1' or mode='bigm' (kkt)")
    m = slm.m
    if slm.sos1:
        groups = list(slm.sos1)
        m.exported_sos1 = pyo.SOSConstraint(range(len(groups)), rule=lambda _, k: groups[k], sos=1)
    if slm.objective is None:
        m.obj = pyo.Objective(expr=0.0, sense=pyo.minimize)
    path.parent.mkdir(parents=True, exist_ok=True)
    _, symbol_map_id = m.write(str(path), io_options={"symbolic_solver_labels": True})  # format by suffix
    if slm.sos1:
        _one_sos_header(path)
    names = m.solutions.symbol_map[symbol_map_id].byObject
    column = lambda v: names.get(id(v))  # noqa: E731  (the column's name in the file, or None)
    return ExportInfo(
        path=path, format=fmt, method=method,
        x_columns=[column(m.x[i]) for i in range(problem.n_x)],
        y_columns=[column(m.y[j]) for j in range(problem.n_y)],
        dual_columns={name: column(v) for name, v in lifted.duals.items()},
        n_columns=sum(1 for v in m.component_data_objects(pyo.Var) if not v.fixed and id(v) in names),
        n_rows=sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True)),
        n_sos1=len(slm.sos1), exact=lifted.exact, assumptions=list(lifted.assumptions),
    )


def _one_sos_header(path: Path) -> None:
    """Pyomo's writers open a new ``SOS`` section for every set; MPS and LP readers (SCIP,
    CPLEX) expect one section holding all sets."""
    lines = path.read_text().splitlines(keepends=True)
    out, seen = [], False
    for line in lines:
        if line.strip() == "SOS":
            if seen:
                continue
            seen = True
        out.append(line)
    path.write_text("".join(out))


__all__ = ["EXPORTABLE", "ExportInfo", "export"]
