"""What every page starts with: page settings and the lab's navigation."""

from __future__ import annotations

import streamlit as st

from cnnlab.text import md
from ui.identity import identity_sidebar
from ui.projector import apply_projector_style, projector_switch, read_projector_request
from ui.resources import load_tensorflow_soon

# (script, label, icon): the pages in the order a lesson uses them.
PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Train.py", "Train", ":material/model_training:"),
    ("pages/2_Augment.py", "Augment", ":material/photo_library:"),
    ("pages/3_Compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/4_Data.py", "Data", ":material/folder_zip:"),
    ("pages/5_Lessons.py", "Lessons", ":material/school:"),
    ("pages/6_Convolutions.py", "Convolutions", ":material/filter:"),
    ("pages/7_Inspect.py", "Inspect", ":material/visibility:"),
)
# The sidebar's width in pixels: Streamlit's default (300) took 30% of a 1024 px projector.
SIDEBAR_WIDTH = 250
# Streamlit's wide layout pads the page 5 rem on each side and 6 rem on top: at 1024x768,
# beside the sidebar, that left 560 px for the page. The header needs 3.75 rem.
PROJECTOR_CSS = """<style>
[data-testid="stMainBlockContainer"] {
  padding-left: 1.5rem; padding-right: 1.5rem; padding-top: 3.5rem; padding-bottom: 4rem;
}
</style>"""


def page_setup(title: str) -> None:
    """Configure the page and draw the navigation in the sidebar.

    In projector mode (ui/projector.py) the sidebar starts collapsed and the text is larger.
    """
    presenting = read_projector_request()
    st.set_page_config(page_title=f"{title} · cnnlab", page_icon=":material/neurology:", layout="wide",
                       initial_sidebar_state="collapsed" if presenting else SIDEBAR_WIDTH)
    st.html(PROJECTOR_CSS)
    apply_projector_style()
    with st.sidebar:
        st.markdown("### cnnlab")
        for script, label, icon in PAGES:
            st.page_link(script, label=label, icon=icon)  # text: lab-written (PAGES)
        st.divider()
        projector_switch()
        identity_sidebar()
    # Here, once the page's own modules are imported: see load_tensorflow_soon.
    load_tensorflow_soon()
