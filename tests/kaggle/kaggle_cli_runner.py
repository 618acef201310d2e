"""Run the official ``kaggle`` CLI against a loopback API: ``python kaggle_cli_runner.py URL ARGS``.

kaggle 2.x has no base-URL setting; its PROD endpoint is looked up per call from
``kagglesdk.kaggle_env._env_to_endpoint``, so replacing that entry before the CLI is imported
routes every request (including the import-time token check) to ``URL``.
"""

import sys

import kagglesdk.kaggle_env as kaggle_env

kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] = sys.argv[1]
sys.argv = ["kaggle", *sys.argv[2:]]

from kaggle.cli import main  # noqa: E402

main()
