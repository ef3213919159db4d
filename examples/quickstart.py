"""Build a bilevel problem by hand, solve it, read the certificate.

Bard (1984): min x + y  s.t.  y in argmin { -5x - y : x + y/2 >= 2, x/4 - y >= -2,
                                             y/2 + x <= 8, 2y - x >= -4, y >= 0 },  x >= 0
Known optimum F* = 28/9 at x = 8/9, y = 20/9 (BOLIB: Bard1984a).

Run: python examples/quickstart.py
"""

import bilevel_mp as bmp


def build() -> bmp.BilevelProblem:
    p = bmp.BilevelProblem(n_x=1, n_y=1, name="Bard1984a")
    x, y = p.x[0], p.y[0]
    p.set_upper(x + y, [x >= 0])
    p.set_lower(-5 * x - y, [x + y / 2 >= 2, x / 4 - y + 2 >= 0, 8 - y / 2 - x >= 0,
                             2 * y - x + 4 >= 0, y >= 0])
    return p


if __name__ == "__main__":
    problem = build()
    print(bmp.detect(problem).label)            # LP-LP
    for mode in ("sos1", "indicator"):
        result = bmp.solve(problem, mode=mode)
        print(result)
    # strong duality: no complementarity at all, a bilinear program for SCIP
    print(bmp.solve(problem, method="strong_duality"))
    # the certificate, field by field
    c = bmp.solve(problem).certificate
    print(f"follower value at the answer {c.ll_value:.6g}, follower optimum {c.ll_optimal_value:.6g}, "
          f"gap {c.ll_gap:.2e}, re-solved by {c.solver}, certified: {c.certified}")
