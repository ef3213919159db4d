"""NAS front end (models): planned (see the NAS issues); nothing is implemented here yet."""
