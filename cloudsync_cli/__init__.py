"""``cloudsync``: the operator CLI (see ``main``). Runs on the operator's machine, not in Lambda."""
