"""One module per command group; each has ``add_parser(subparsers)`` setting ``func``."""
