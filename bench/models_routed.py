"""kagglehub and the kaggle CLI routed to a loopback API, for the models benchmark.

``python bench/models_routed.py URL model HANDLE`` runs ``kagglehub.model_download(HANDLE)``,
``... URL notebook HANDLE`` runs ``kagglehub.notebook_output_download(HANDLE)``, and
``... URL cli ARGS...`` the ``kaggle`` command line; the path kagglehub returns is printed last.
kagglesdk reads its PROD endpoint when it builds a client, so replacing it first routes
every request.
"""

from __future__ import annotations

import sys

import kagglesdk.kaggle_env as kaggle_env


def main(argv: list[str]) -> int:
    url, mode, *rest = argv
    kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] = url
    if mode == "cli":
        sys.argv = ["kaggle", *rest]
        from kaggle.cli import main as kaggle_main

        kaggle_main()
        return 0
    import kagglehub

    if mode == "model":
        print(kagglehub.model_download(rest[0]))
    else:
        print(kagglehub.notebook_output_download(rest[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
