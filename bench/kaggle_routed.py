"""The official ``kaggle`` clients routed to a loopback API (kaggle 2.x has no base-URL setting).

``python bench/kaggle_routed.py URL cli ARGS...`` runs the ``kaggle`` command line;
``python bench/kaggle_routed.py URL files REF DIR NAME...`` downloads each NAME of dataset REF
into DIR with one ``dataset_download_file`` call per file, in one process, as a script would;
``python bench/kaggle_routed.py URL hub REF PATH`` runs ``kagglehub.dataset_download(REF,
path=PATH)`` (routed this way rather than with ``KAGGLE_API_ENVIRONMENT=TEST``, which makes
kagglesdk print every response body: a 1 GiB file read into memory and printed).

kagglesdk looks the PROD endpoint up when it builds a client, so replacing it before ``kaggle``
or ``kagglehub`` is imported routes every request, the import-time token check included.
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
    if mode == "files":
        ref, folder, *names = rest
        import kaggle

        for name in names:
            kaggle.api.dataset_download_file(ref, name, path=folder, force=True, quiet=True)
        return 0
    if mode == "hub":
        ref, path = rest
        import kagglehub

        print(kagglehub.dataset_download(ref, path=path))
        return 0
    raise SystemExit(f"unknown mode {mode!r}; use cli, files or hub")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
