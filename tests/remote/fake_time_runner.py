"""``python fake_time_runner.py FAKE_URL mlenv-args...``: ``mlenv`` whose remote-run waits
are driven by the fake's events (see fake_time.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_time import install

from mlenv_magics.cli import main

install(sys.argv[1])
raise SystemExit(main(sys.argv[2:]))
