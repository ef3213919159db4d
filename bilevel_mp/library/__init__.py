"""Problem libraries: classic problems with known optima, BOLIB files, random LP-LP."""

from .assignment_interdiction import AssignmentInterdictionData, assignment_interdiction
from .enumeration import EnumerationResult, solve_by_enumeration
from .knapsack_interdiction import KnapsackInterdictionData, knapsack_interdiction
