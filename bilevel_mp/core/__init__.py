"""Machinery every method shares: the lifted model and its bounds, the certificate,
derivatives, start points, and the one exit (``finish``) from a method's ``Claim`` to a
``BilevelResult``. Imports the model and the back ends only."""
