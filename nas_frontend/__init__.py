"""NAS front end (nas_frontend): planned (see the NAS issues); nothing is implemented here yet."""
