"""The notebook login form shown when Kaggle credentials are needed and none exist.

A running cell cannot wait for a widget, so the form is shown, the cell fails with a message
pointing at it, and the login is used from the next run on (saved with mode 0600 if the user
ticks the box). Core ipywidgets only, so it renders with ipywidgets 7.7 and 8.x.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from .data.kaggle_auth import (
    TOKEN_PAGE,
    credentials_from_form,
    remember_login,
    save_login,
    saved_login_path,
)
from .errors import CredentialsError


def login_form(env: Mapping[str, str]) -> Any:
    """The form as an ipywidgets VBox (not displayed)."""
    import ipywidgets as widgets

    intro = widgets.HTML(
        "<b>Kaggle login</b>: paste an API token (create one at "
        f'<a href="{TOKEN_PAGE}" target="_blank">{TOKEN_PAGE}</a>), or a legacy username'
        " and key."
    )
    username = widgets.Text(description="Username", placeholder="only with a legacy key")
    secret = widgets.Password(description="Token / key")
    save = widgets.Checkbox(
        value=False,
        description=f"Save to {saved_login_path(env)} (readable by you only)",
        indent=False,
    )
    button = widgets.Button(description="Log in", button_style="primary")
    status = widgets.HTML("")

    def on_click(_button: Any) -> None:
        try:
            credentials = credentials_from_form(username.value, secret.value)
        except CredentialsError as error:
            status.value = html.escape(error.message)
            return
        if credentials is None:
            status.value = "Enter a token (or a username and a key)."
            return
        remember_login(credentials)
        where = "for this session"
        if save.value:
            where = f"and saved to {save_login(credentials, env)}"
        secret.value = ""
        status.value = f"Logged in {where}. Run the cell again."

    button.on_click(on_click)
    return widgets.VBox([intro, username, secret, save, button, status])


def show_login_form(env: Mapping[str, str]) -> bool:
    """Display the form; False when widgets cannot be shown here."""
    try:
        form = login_form(env)
        from IPython.display import display
    except ImportError:
        return False
    display(form)
    return True
