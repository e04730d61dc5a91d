"""Optional sign-in and the read-only role.

Three ways to run the explorer, chosen by configuration alone:

- **Open** (nothing configured): everyone is an analyst, for a laptop or a
  trusted network.
- **Team password**: ``RINGWATCH_APP_PASSWORD`` (or ``password`` under
  ``[ringwatch]`` in ``.streamlit/secrets.toml``) signs analysts in;
  ``RINGWATCH_APP_VIEWER_PASSWORD`` (``viewer_password``) signs viewers in.
- **OIDC** (an ``[auth]`` section in secrets, see Streamlit's ``st.login``):
  the identity provider signs people in; e-mails listed in ``viewers`` under
  ``[ringwatch]`` are read-only, and when ``analysts`` is listed only those
  may record decisions.

``RINGWATCH_APP_READONLY=1`` makes everyone a viewer, whatever else is set.
A viewer sees everything but cannot record decisions.

Session state holds the password sign-in of a browser session (the one
thing besides the analyst's selections it holds); OIDC identities live in
Streamlit's own cookie.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

__all__ = ["Access", "current", "gate", "sign_out", "READONLY_ENV", "PASSWORD_ENV", "VIEWER_PASSWORD_ENV"]

READONLY_ENV = "RINGWATCH_APP_READONLY"
PASSWORD_ENV = "RINGWATCH_APP_PASSWORD"
VIEWER_PASSWORD_ENV = "RINGWATCH_APP_VIEWER_PASSWORD"
_SESSION_KEY = "_ringwatch_access"
ANALYST, VIEWER = "analyst", "viewer"


@dataclass(frozen=True)
class Access:
    """Who is using the app and what they may do.

    Attributes
    ----------
    role : str
        ``"analyst"`` (may record decisions) or ``"viewer"`` (read-only).
    name : str
        The signed-in person's name or e-mail ("" when sign-in is off or by team password).
    method : str
        ``"open"``, ``"password"`` or ``"oidc"``.
    """

    role: str
    name: str = ""
    method: str = "open"

    @property
    def can_decide(self) -> bool:
        """Whether this person may record decisions."""
        return self.role == ANALYST


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


def _settings() -> dict[str, Any]:
    secrets = _secrets()
    own = secrets.get("ringwatch", {}) or {}
    return {
        "oidc": bool(secrets.get("auth")),
        "password": os.environ.get(PASSWORD_ENV) or own.get("password") or "",
        "viewer_password": os.environ.get(VIEWER_PASSWORD_ENV) or own.get("viewer_password") or "",
        "viewers": {str(v).lower() for v in own.get("viewers", [])},
        "analysts": {str(v).lower() for v in own.get("analysts", [])},
        "readonly": os.environ.get(READONLY_ENV, "").strip().lower() in ("1", "true", "yes"),
    }


def _cap(access: Access, readonly: bool) -> Access:
    return Access(VIEWER, access.name, access.method) if readonly else access


def current() -> Access | None:
    """The access of this browser session, or None when sign-in is required and has not happened."""
    conf = _settings()
    if conf["oidc"]:
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or "").lower()
        name = str(st.user.get("name") or email)
        viewer = email in conf["viewers"] or (bool(conf["analysts"]) and email not in conf["analysts"])
        return _cap(Access(VIEWER if viewer else ANALYST, name, "oidc"), conf["readonly"])
    if conf["password"] or conf["viewer_password"]:
        role = st.session_state.get(_SESSION_KEY)
        if role not in (ANALYST, VIEWER):
            return None
        return _cap(Access(role, "", "password"), conf["readonly"])
    return _cap(Access(ANALYST), conf["readonly"])


def _matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def gate() -> Access:
    """Return the session's access, or show the sign-in form and stop the run until signed in."""
    access = current()
    if access is not None:
        return access
    conf = _settings()
    st.title("RingWatch")
    if conf["oidc"]:
        st.write("Sign in with your organisation's account to open the analyst explorer.")
        if st.button("Sign in", type="primary"):
            st.login()
        st.stop()
    with st.form("sign_in"):
        st.write("This RingWatch explorer is protected by a team password.")
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if _matches(given, conf["password"]):
            st.session_state[_SESSION_KEY] = ANALYST
            st.rerun()
        elif _matches(given, conf["viewer_password"]):
            st.session_state[_SESSION_KEY] = VIEWER
            st.rerun()
        st.error("Wrong password.")
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the run")  # pragma: no cover


def sign_out(access: Access) -> None:
    """End the session's sign-in (OIDC: Streamlit's logout; password: forget it)."""
    if access.method == "oidc":
        st.logout()
    else:
        st.session_state.pop(_SESSION_KEY, None)
        st.rerun()
