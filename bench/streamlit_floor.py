"""A bare Streamlit app with the dashboards' sidebar of seven pages, for the browser bench's floor:
what Streamlit itself costs a visitor on this machine before a page draws anything of its own.

Each page shows its title only, or with ``PCR_FLOOR_CONTENT=chart`` its title and one small Plotly
bar chart (the first chart of a visit also loads and evaluates Plotly's module). Run by
`bench/dashboard_render.py --browser`; not part of the product."""
import json
import os

import plotly.graph_objects as go
import streamlit as st

CONTENT = os.environ.get("PCR_FLOOR_CONTENT", "title")
PAGES = json.loads(os.environ["PCR_FLOOR_PAGES"])  # [[address, title], ...], the bench's BROWSER_PAGES


def _page(title: str):
    def show() -> None:
        st.title(title)
        if CONTENT == "chart":
            st.plotly_chart(go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2])))
    return show


st.navigation([st.Page(_page(title), title=title, url_path=path or None, default=not path)
               for path, title in PAGES]).run()
