"""MPS + AUX instance files (MibS, BOBILib) for mixed-integer linear bilevel problems.

An instance is two files:

- the **MPS** file (``.mps``, ``.mps.gz``; HiGHS also reads ``.lp``) holds every variable
  and constraint of both levels and the *upper*-level objective;
- the **AUX** file names the lower-level variables (with their lower-level objective
  coefficients) and the lower-level constraints. Everything not named is upper level.
  Bounds on lower-level variables belong to the lower level.

Two AUX dialects are read (the dialect is detected from the first token):

- keyword (BOBILib, MibS "name-based")::

      @NUMVARS / n / @NUMCONSTRS / m / @VARSBEGIN / name coef ... / @VARSEND /
      @CONSTRSBEGIN / row ... / @CONSTRSEND / @NAME / text / @MPS / file.mps

  Also accepted: MibS's spellings ``@NUMCONSTR``, ``@CONSTRBEGIN``/``@CONSTREND`` (its
  docs) and ``@CONSTSBEGIN``/``@CONSTSEND`` (its reader), ``@LP``, and ``@OBJSENSE``
  followed by ``MIN``/``MAX`` (shown in MibS's docs example). The lower level minimises.
- legacy (MibS "index-based") pairs ``N n``, ``M m``, ``LC col``, ``LR row``, ``LO coef``,
  ``OS 1|-1`` (1 = min, -1 = max). ``LC``/``LR`` are 0-based indices in file order
  (rows counted without the objective row, as CoinMpsIO does); a non-integer token is
  taken as a name (MibS's ``-MibS_inputFormat nameBased``, e.g. its ``moore90WithName``).
  ``LO`` coefficients follow the order of the ``LC`` lines. Interdiction files add
  ``IC cost`` (one per MPS column, in column order) and ``IB budget``: MibS then solves
  the interdiction problem it builds from them, and so does this reader (model and
  source lines: ``bilevel_mp.frontends.mps_aux.mibs``); their ``LC``/``LR`` indices
  refer to that model (the MPS columns are its follower columns n..2n-1; its leader
  row 0 is the budget). ``problem.meta["mibs_interdiction"]`` holds costs and budget.

  A legacy file is MibS's own, so its MPS file is read with MibS's reader (CoinMpsIO)
  conventions where HiGHS's differ (``mps_aux.mibs``: a negative first ``UP`` bound frees
  the lower bound; integer bounds within 1e-5 of an integer are rounded); keyword files,
  BOBILib's dialect too and written for any MPS reader, keep HiGHS's reading. ``problem.meta["mibs_conventions"]`` says which applied and
  ``problem.meta["notes"]`` lists every convention that changed a column.

Sources followed: MibS docs "MibS Input File Format" (coin-or.github.io/MibS/input.html,
``input.md`` in coin-or/MibS), MibS's reader ``MibSModel::readAuxiliaryData`` in
``src/MibSModel.cpp``, MibS data files (``data/general/random/*.aux``), and the idol
solver's bilevel input page (hlefebvr/idol, "Input Format for Bilevel Problems"), which
documents the BOBILib (bobilib.org) files with the Moore & Bard (1990) example.

MPS semantics are HiGHS's (``Highs.readModel``): columns default to ``[0, inf)``;
integer columns inside ``MARKER`` lines with no ``BOUNDS`` entry at all are binary (the
common MPS rule: CoinMpsIO's ``defaultBound_`` = 1, CPLEX, Gurobi, HiGHS), for every file,
and ``problem.meta["notes"]`` names them; an RHS on the objective row is minus the
objective's constant; ``OBJSENSE MAX`` is honoured (CoinMpsIO, hence MibS, ignores it: a
note says so for a legacy file, and an interdiction file refuses it), so files written
here always carry the upper objective in minimisation form. Line ends may be ``\n`` or
``\r\n`` (MibS's files have both). An AUX file is found next to ``inst.mps`` as
``inst.aux``, ``inst.mps.aux`` or, as MibS looks, ``inst.txt``. Entries HiGHS drops (a
coefficient in an undefined row, duplicates) are reported as errors rather than silently
lost, and a strict pass (``lint``) first refuses, by line, what HiGHS's lenient parser would misread:
a malformed number (``1,5``), extra fields, a BOUNDS entry for an undeclared column, a
row or column named ``NAME``/``OBJSENSE``, an unknown objective sense. The writer emits
the MPS text itself (exact numbers, explicit bounds on every column).

Lower-level variables may be integer: the problem keeps that (``problem.y[j]`` has an
integer domain, ``problem.meta["y_integer"]``); the KKT-based methods then refuse it
with a clear error.
"""

from __future__ import annotations

from .aux import MPS_SUFFIXES, AuxData, find_aux, is_mps_path, read_aux
from .reader import read_mps_aux
from .writer import write_mps_aux

__all__ = ["MPS_SUFFIXES", "AuxData", "find_aux", "is_mps_path", "read_aux", "read_mps_aux",
           "write_mps_aux"]
