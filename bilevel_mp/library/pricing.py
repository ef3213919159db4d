"""Stackelberg pricing: a seller prices products, a buyer covers its needs by an LP.

The buyer must cover requirements b_i (nutrients, components, bandwidth, ...) with
products j that each supply A_ij >= 0 of requirement i, available up to s_j units, at
price π_j per unit. Some products are the seller's: their price p_j in [floor_j, cap_j]
is the leader's decision, the others sell at fixed competitor prices. The buyer buys
the cheapest bundle; the seller maximises profit, price minus unit cost k_j per unit::

    max_p   sum_{j in S} (p_j - k_j) z_j
    s.t.    z in argmin_z { sum_{j in S} p_j z_j + sum_{j not in S} π_j z_j :
                             A z >= b,  0 <= z <= s }

A Stackelberg pricing game in the sense of Labbé, Marcotte & Savard (1998) and Briest,
Hoefer & Krysta (2012); toll setting (``toll.py``) is its network special case.

The default ``formulation="linear"`` writes the seller's revenue p·z_S through the
buyer's LP duality: the leader also holds the buyer's dual prices w_i >= 0 (per
requirement) and v_j >= 0 (per supply limit) with  A_j·w - v_j <= price_j  for every
product, and  p·z_S = b·w - s·v - π·z_other  at a dual optimum. Any dual-feasible
(w, v) gives a value no larger (weak duality) and the dual optimum attains it, so the
bilevel optimum is unchanged and the leader's objective is linear.
``formulation="bilinear"`` keeps p·z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .network import check_number

FORMULATIONS = ("linear", "bilinear")


@dataclass
class PricingModel:
    """How a pricing problem's variables map back to products."""

    products: list  # product names, in the order of y[0..]
    seller: list  # seller's product names, in the order of x[0..]
    requirements: list
    content: np.ndarray  # requirements x products
    unit_cost: dict  # seller product -> unit cost


@dataclass
class PricingSolution:
    prices: dict  # seller product -> price
    purchases: dict  # product -> quantity bought (nonzero only)
    profit: float  # sum (price - unit cost) * quantity, recomputed from x and y


def _product(name, spec, requirements):
    if not isinstance(spec, dict):
        raise BilevelInputError(f"product {name!r}: expected a dict of fields, got {spec!r}")
    known = {"content", "price", "price_cap", "price_floor", "unit_cost", "supply"}
    extra = set(spec) - known
    if extra:
        raise BilevelInputError(f"product {name!r}: unknown field(s) {sorted(extra)}; known: {sorted(known)}")
    content = spec.get("content")
    if not isinstance(content, dict) or not content:
        raise BilevelInputError(f"product {name!r}: 'content' must be a non-empty dict requirement -> amount")
    for req, amount in content.items():
        if req not in requirements:
            raise BilevelInputError(f"product {name!r} supplies unknown requirement {req!r}")
        check_number(amount, f"amount of {req!r} in product {name!r}")
    is_seller = "price_cap" in spec
    if is_seller == ("price" in spec):
        raise BilevelInputError(
            f"product {name!r}: give either 'price' (a competitor's fixed price) or 'price_cap' "
            "(the seller sets the price), not both or neither")
    if not is_seller and ({"price_floor", "unit_cost"} & set(spec)):
        raise BilevelInputError(f"product {name!r}: 'price_floor'/'unit_cost' apply to seller products only")
    supply = spec.get("supply")
    return dict(
        content=content,
        seller=is_seller,
        price=None if is_seller else check_number(spec["price"], f"price of product {name!r}"),
        cap=check_number(spec["price_cap"], f"price cap of product {name!r}") if is_seller else None,
        floor=check_number(spec.get("price_floor", 0.0), f"price floor of product {name!r}"),
        unit_cost=check_number(spec.get("unit_cost", 0.0), f"unit cost of product {name!r}", nonnegative=False),
        supply=None if supply is None else check_number(supply, f"supply of product {name!r}"),
    )


def stackelberg_pricing(requirements: dict, products: dict, formulation: str = "linear",
                        name: str = "stackelberg_pricing") -> BilevelProblem:
    """Build the seller-buyer pricing bilevel problem.

    Parameters
    ----------
    requirements : ``{requirement: amount >= 0}`` the buyer must cover
    products : ``{name: spec}``, spec a dict with ``content``
        (``{requirement: amount >= 0}``), optional ``supply`` (units available, default unlimited), and
        either ``price`` (a competitor's fixed price >= 0) or ``price_cap`` (a seller
        product, optional ``price_floor`` (default 0) and ``unit_cost`` (default 0))
    formulation : ``"linear"`` (default, see module docstring) or ``"bilinear"``

    Raises ``BilevelInputError`` (a ``ValueError``) naming the product or requirement
    when the data are inconsistent, or when the buyer cannot cover its requirements
    even buying everything.
    """
    if formulation not in FORMULATIONS:
        raise BilevelInputError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    if not isinstance(requirements, dict) or not requirements:
        raise BilevelInputError("requirements must be a non-empty dict requirement -> amount")
    reqs = list(requirements)
    b = np.array([check_number(requirements[r], f"requirement {r!r}") for r in reqs])
    if not isinstance(products, dict) or not products:
        raise BilevelInputError("products must be a non-empty dict name -> spec")
    names = list(products)
    specs = [_product(n, products[n], requirements) for n in names]
    seller = [n for n, s in zip(names, specs) if s["seller"]]
    if not seller:
        raise BilevelInputError("no seller product: give at least one product a 'price_cap'")
    for n, s in zip(names, specs):
        if s["seller"] and s["floor"] > s["cap"]:
            raise BilevelInputError(f"product {n!r}: price floor {s['floor']:g} exceeds price cap {s['cap']:g}")
    A = np.array([[float(s["content"].get(r, 0.0)) for s in specs] for r in reqs])
    supply = [s["supply"] for s in specs]
    _check_coverable(A, b, supply, reqs)

    n_req, n_prod = len(reqs), len(names)
    price_pos = {j: n for n, j in enumerate(j for j in range(n_prod) if specs[j]["seller"])}
    capped = [j for j in range(n_prod) if supply[j] is not None]
    x_names = [f"price[{names[j]}]" for j in price_pos]
    x_bounds = [(specs[j]["floor"], specs[j]["cap"]) for j in price_pos]
    if formulation == "linear":
        w_ub = _dual_price_bounds(A, specs, supply)
        x_names += [f"shadow[{r}]" for r in reqs] + [f"supply_rent[{names[j]}]" for j in capped]
        active = [b[i] > 0 or bool(A[i, :].any()) for i in range(len(reqs))]
        x_bounds += [(0.0, u if active[i] else 0.0) for i, u in enumerate(w_ub)]
        x_bounds += [(0.0, None if any(u is None for u in w_ub) else float(A[:, j] @ np.array(w_ub)))
                     for j in capped]
    p = BilevelProblem(len(x_names), n_prod, name=name, x_bounds=x_bounds, x_names=x_names,
                       y_bounds=[(0.0, supply[j]) for j in range(n_prod)],
                       y_names=[f"buy[{n}]" for n in names])
    x, z = p.x, p.y

    def price(j):
        return x[price_pos[j]] if j in price_pos else specs[j]["price"]

    cover = [sum(A[i, j] * z[j] for j in range(n_prod) if A[i, j]) >= b[i] for i in range(n_req)
             if b[i] > 0 or any(A[i, :])]
    p.set_lower(sum(price(j) * z[j] for j in range(n_prod)), cover)
    unit_cost = {names[j]: specs[j]["unit_cost"] for j in price_pos}
    cost_term = sum(specs[j]["unit_cost"] * z[j] for j in price_pos)
    if formulation == "linear":
        w = [x[len(price_pos) + i] for i in range(n_req)]
        v = {j: x[len(price_pos) + n_req + n] for n, j in enumerate(capped)}
        dual_feasible = []
        for j in range(n_prod):
            lhs = sum(A[i, j] * w[i] for i in range(n_req) if A[i, j])
            if j in v:
                lhs = lhs - v[j]
            if isinstance(lhs, (int, float)):
                continue  # a product that supplies nothing: no dual row
            dual_feasible.append(lhs <= price(j))
        revenue = (sum(b[i] * w[i] for i in range(n_req)) - sum(supply[j] * v[j] for j in capped)
                   - sum(specs[j]["price"] * z[j] for j in range(n_prod) if j not in price_pos))
        p.set_upper(revenue - cost_term, dual_feasible, sense="max")
    else:
        p.set_upper(sum(x[price_pos[j]] * z[j] for j in price_pos) - cost_term, [], sense="max")
    p.meta["pricing"] = PricingModel(names, seller, reqs, A, unit_cost)
    p.source = "Stackelberg pricing (Labbé, Marcotte & Savard 1998; Briest, Hoefer & Krysta 2012)"
    return p


def _check_coverable(A, b, supply, reqs):
    """Raise if the buyer cannot cover some requirement even buying all supply."""
    for i, r in enumerate(reqs):
        if b[i] <= 0:
            continue
        if any(A[i, j] > 0 and supply[j] is None for j in range(A.shape[1])):
            continue
        most = sum(A[i, j] * supply[j] for j in range(A.shape[1]) if supply[j] is not None)
        if most < b[i]:
            raise BilevelInputError(
                f"requirement {r!r} = {b[i]:g} cannot be covered: all products together supply {most:g}")
    # each product's supply bounds only its own quantity and A >= 0, so requirements
    # that can each be covered can be covered together


def _dual_price_bounds(A, specs, supply) -> list:
    """Upper bounds on the buyer's dual prices w_i implied by dual feasibility: a product
    j without a supply limit gives A_ij w_i <= price_j <= cap_j. None where no such
    product supplies i."""
    out = []
    for i in range(A.shape[0]):
        best = math.inf
        for j, s in enumerate(specs):
            if A[i, j] > 0 and supply[j] is None:
                top = s["cap"] if s["seller"] else s["price"]
                best = min(best, top / A[i, j])
        out.append(None if not math.isfinite(best) else best)
    return out


def pricing_solution(problem: BilevelProblem, result) -> PricingSolution:
    """Prices, purchases and the seller's profit of a result of ``stackelberg_pricing``."""
    pm: PricingModel = problem.meta["pricing"]
    if result.x is None:
        raise BilevelInputError(f"the result has no point (status {result.status})")
    prices = {n: float(result.x[k]) for k, n in enumerate(pm.seller)}
    bought = {n: float(result.y[j]) for j, n in enumerate(pm.products) if abs(result.y[j]) > 1e-7}
    profit = sum((prices[n] - pm.unit_cost[n]) * float(result.y[pm.products.index(n)]) for n in pm.seller)
    return PricingSolution(prices, bought, float(profit))


def random_pricing(n_products: int, seed: int = 0, seller_share: float = 0.5):
    """A seeded pricing instance for scaling runs: ``n_products`` products over
    ``max(2, n_products // 4)`` requirements (each product supplies 1..5 units of two of
    them), the first ``seller_share`` of the products the seller's (price cap 30, unit cost
    0..5, supply 2..10), the rest competitors' at prices 5..30 with unlimited supply
    (so the buyer can always cover). Returns ``(requirements, products)`` for
    ``stackelberg_pricing``."""
    if not isinstance(n_products, int) or n_products < 2:
        raise BilevelInputError(f"n_products must be an integer >= 2, got {n_products!r}")
    rng = np.random.default_rng(seed)
    reqs = [f"r{i}" for i in range(max(2, n_products // 4))]
    requirements = {r: int(rng.integers(5, 21)) for r in reqs}
    n_seller = max(1, int(round(seller_share * n_products)))
    products = {}
    for j in range(n_products):
        picked = rng.choice(len(reqs), size=2, replace=False)
        content = {reqs[i]: int(rng.integers(1, 6)) for i in picked}
        if j < n_seller:
            products[f"s{j}"] = dict(content=content, price_cap=30.0, unit_cost=float(rng.integers(0, 6)),
                                     supply=float(rng.integers(2, 11)))
        else:
            products[f"c{j}"] = dict(content=content, price=float(rng.integers(5, 31)))
    for r in reqs:  # every requirement has a competitor's product: the buyer can always cover
        if not any(r in spec["content"] for spec in products.values() if "price" in spec):
            products[f"c_{r}"] = dict(content={r: 1}, price=30.0)
    return requirements, products


__all__ = ["random_pricing", "stackelberg_pricing", "pricing_solution", "PricingModel", "PricingSolution"]
