"""Engines that the methods drive: the LP-LP complementarity branch-and-bound, the
penalty paths, the local model of a bilevel problem at an iterate, the auxiliary descent
program and the trust-region model. No engine builds a result: ``bilevel_mp.methods``
turns what they find into a ``Claim``."""
