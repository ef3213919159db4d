"""Methods and their settings: the registry, declared settings, and what a result says
about how it was obtained. Every method takes its own settings through ``bmp.solve``;
one it does not have is an error that lists the ones it has.

Run: python examples/method_settings.py
"""

import dataclasses

import bilevel_mp as bmp
from bilevel_mp.library import classic

if __name__ == "__main__":
    p = classic.get("Bard1984a")  # LP-LP, F* = 28/9
    for name, module in bmp.METHODS.items():
        names = [f.name for f in dataclasses.fields(module.Settings)]
        print(f"{name:18s} {'local ' if module.LOCAL else 'global'}  settings: {', '.join(names)}")
    print()
    r = bmp.solve(p)  # auto: a portfolio; found_by names the stage that found the point
    print(f"auto      -> status {r.status}, F = {r.F:.6f}, found by {r.found_by} on {r.solver}, "
          f"stages {[s.method for s in r.history]}")
    r = bmp.solve(p, method="kkt", mode="indicator")
    print(f"kkt       -> status {r.status}, F = {r.F:.6f}, mode {r.mode}, solver {r.solver}")
    r = bmp.solve(p, method="descent", x0=[4.0], radius=0.5)
    print(f"descent   -> status {r.status}, F = {r.F:.6f}, {len(r.history)} iterations")
    r = bmp.solve(p, method="complementarity_bb", node_limit=1000)
    print(f"cbb       -> status {r.status}, F = {r.F:.6f}, bound {r.bound:.6f}")
    try:
        bmp.solve(p, method="descent", mode="indicator")
    except bmp.BilevelInputError as exc:
        print(f"error     -> {exc}")
