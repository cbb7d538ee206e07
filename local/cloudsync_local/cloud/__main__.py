"""``python -m cloudsync_local.cloud`` = ``cloudsync local up``."""

from .main import main

raise SystemExit(main())
