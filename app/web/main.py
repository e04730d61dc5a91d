"""RingWatch analyst explorer: the entry file. It only signs in and declares the navigation.

Run it with ``ringwatch app [--store URI]`` (the store URI travels in
``RINGWATCH_STORE``), or ``streamlit run app/web/main.py``.
"""

import streamlit as st

from app.web import auth, data, ui

st.set_page_config(page_title="RingWatch", page_icon=":material/hub:", layout="wide")
# Our own static style (no data in it): less empty space above the page at 1366x768.
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:3.5rem;padding-bottom:3rem}</style>")
access = auth.gate()
page = st.navigation(
    [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/rings.py", title="Rings", icon=":material/table_rows:"),
        st.Page("views/ring.py", title="Ring", icon=":material/hub:"),
        st.Page("views/search.py", title="Search", icon=":material/search:"),
    ],
    position="top",
)
with data.store_session(data.store_uri()):
    ui.status_bar(access, data.store_uri())
    page.run()
