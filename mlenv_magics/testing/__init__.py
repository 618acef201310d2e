"""Loopback fakes of the services mlenv_magics talks to, for tests and offline notebooks.

The fakes speak the real wire protocols, so the official clients (the ``kaggle``
CLI, PyDrive2) work against them too. They depend on nothing else in the package.
"""
