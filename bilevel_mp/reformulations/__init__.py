"""Single-level reductions of a bilevel problem (KKT, strong duality, Scholtes), each a
map ``apply(problem) -> Lifted`` with ``Lifted.invert`` back; the loops that solve them live
in ``bilevel_mp.methods``."""
