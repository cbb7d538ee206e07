"""One thin Lambda handler per function: parse the event, hand off to ``cloudsync_core.sync``."""
