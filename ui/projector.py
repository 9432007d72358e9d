"""Projector mode: larger text and charts, one chart per row, controls folded away.

Switched on by the sidebar's toggle or by `?present=1` in the address (a lecturer can
bookmark it); the choice is kept in the session, so it follows the user from page to page.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.charts.style import projector_figure

PRESENT_PARAM = "present"
STATE_KEY = "projector_mode"
TOGGLE_KEY = "projector_toggle"
# A root font of 20 px (Streamlit's is 16) scales every rem-sized text and widget by 1.25;
# headings and body text get a little more. Columns holding a chart wrap, one per row, at
# the full width (the :has() selector leaves rows of controls side by side).
CSS = """<style>
html { font-size: 20px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; }
[data-testid="stCaptionContainer"] { font-size: 0.95rem; }
[data-testid="stHorizontalBlock"]:has([data-testid="stPlotlyChart"]) { flex-wrap: wrap; }
[data-testid="stHorizontalBlock"]:has([data-testid="stPlotlyChart"]) > [data-testid="stColumn"] {
  flex: 1 1 100% !important; width: 100% !important; min-width: 100% !important;
}
</style>"""


def read_projector_request() -> bool:
    """Whether projector mode is on, reading `?present=1` (or 0) once it is in the address."""
    requested = st.query_params.get(PRESENT_PARAM)
    if requested in ("1", "true", "on"):
        st.session_state[STATE_KEY] = True
    elif requested in ("0", "false", "off"):
        st.session_state[STATE_KEY] = False
    return projector_on()


def projector_on() -> bool:
    return bool(st.session_state.get(STATE_KEY, False))


def _toggled() -> None:
    on = bool(st.session_state[TOGGLE_KEY])
    st.session_state[STATE_KEY] = on
    if on:
        st.query_params[PRESENT_PARAM] = "1"
    elif PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]


def projector_switch() -> None:
    """The sidebar toggle; its widget state is set from the session's choice on every page."""
    st.session_state[TOGGLE_KEY] = projector_on()
    st.toggle("Projector mode", key=TOGGLE_KEY, on_change=_toggled,
              help="Larger text and charts, one chart per row, controls folded away: readable "
                   "from the back of a room. Or add ?present=1 to the address.")


def apply_projector_style() -> None:
    if projector_on():
        st.html(CSS)


def plotly_chart(figure, *, theme=None, where=None, **kwargs):
    """st.plotly_chart (or `where`'s, a column or container), with the figure's text
    enlarged in projector mode.

    Always without Streamlit's chart theme (`theme` is accepted and must be None): the
    theme would write its 12 px sizes back into the lab's template.
    """
    if theme is not None:
        raise ValueError(f"Invalid `theme`. Expected None (the lab's own template). Received: {theme!r}.")
    if projector_on():
        figure = projector_figure(figure)
    return (where or st).plotly_chart(figure, theme=None, **kwargs)


def controls_and_results(label: str, widths=(1, 3)):
    """Two areas for a page: its controls and its results, side by side in `widths`;
    in projector mode the controls fold into a closed expander above the results, which
    then have the page's full width."""
    if projector_on():
        return st.expander(label, expanded=False, icon=":material/tune:"), st.container()  # text: lab-written (callers pass a page constant)
    return tuple(st.columns(list(widths), gap="large"))
