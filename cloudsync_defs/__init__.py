"""Plain-data definitions shared by the two deployers: the Pulumi program and the local cloud."""
