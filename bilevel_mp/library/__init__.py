"""Problem libraries: classic problems with known optima, BOLIB files, random LP-LP."""
