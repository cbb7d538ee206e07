"""The Pulumi components of cloudsync: one ComponentResource per module, wired by __main__.py."""
