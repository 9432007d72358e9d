"""The lab's chart style: one template, colours and text sizes that every figure shares.

Every figure of the lab (`cnnlab.charts.training`, `cnnlab.charts.insight`,
`cnnlab.charts.compare`) takes its text sizes, font and grid from one template, `TEMPLATE`,
so no chart can be harder to read than another; the pages draw them with `theme=None`, as
Streamlit's own chart theme would put its small (12 px) text back into the template.
"""

from __future__ import annotations

import plotly.graph_objects as go

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
# Faint behind the epoch curves, yet visible on a projector: in the first epoch it is all there is.
BATCH_COLOR = "rgba(31, 119, 180, 0.45)"
# Text sizes in CSS pixels. On a 1024x768 projector image 14 px is the least that reads from
# the back of a classroom (issue 12 measured Streamlit's themed charts at 11 to 12 px).
MIN_FONT_SIZE = 14  # tick labels; nothing in a chart is smaller
FONT_SIZE = 16  # legends, axis titles, labels on lines, hover text
TITLE_FONT_SIZE = 18  # figure and subplot titles
# Streamlit's own font first, as the page around the chart uses it.
FONT_FAMILY = '"Source Sans", "Source Sans Pro", "Helvetica Neue", Arial, sans-serif'
TEXT_COLOR = "#262730"  # Streamlit's text colour; darker than Plotly's slate, for a projector
GRID_COLOR = "#dcdfe6"  # visible on a washed-out projector, unlike plotly_white's #EBF0F8


def _axis_style() -> dict:
    return {"tickfont": {"size": MIN_FONT_SIZE}, "title": {"font": {"size": FONT_SIZE}, "standoff": 10},
            "gridcolor": GRID_COLOR, "linecolor": GRID_COLOR, "zerolinecolor": GRID_COLOR,
            "zerolinewidth": 2, "ticks": "", "automargin": True}


# One layout-only template. Its axis entries apply to every axis of a figure (xaxis2 and on,
# too), its annotation defaults to every annotation (subplot titles included). Why layout
# only: a figure copies and validates its template, and plotly_white's per-trace defaults
# are four fifths of it, which cost a live page tens of milliseconds per chart on every
# poll for no visible difference.
TEMPLATE = go.layout.Template(layout={
    "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": TEXT_COLOR},
    "title": {"font": {"size": TITLE_FONT_SIZE}, "x": 0.02, "xanchor": "left"},
    "legend": {"font": {"size": FONT_SIZE}},
    "hoverlabel": {"font": {"size": FONT_SIZE, "family": FONT_FAMILY}, "align": "left"},
    "annotationdefaults": {"font": {"size": FONT_SIZE}, "arrowcolor": TEXT_COLOR, "arrowhead": 0},
    "xaxis": _axis_style(),
    "yaxis": _axis_style(),
    "coloraxis": {"colorbar": {"tickfont": {"size": MIN_FONT_SIZE}, "outlinewidth": 0}},
    "colorway": ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"],
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "hovermode": "closest",
})

# Projector mode (a sidebar switch, or ?present=1): every text size of a figure times this,
# so the smallest tick label is 14 * 1.45 = 20 px, and figures 1.2 times taller to fit it.
PROJECTOR_SCALE = 1.45
PROJECTOR_HEIGHT_SCALE = 1.2
PROJECTOR_DEFAULT_HEIGHT = 450  # Plotly's own default, for a figure that sets none


def projector_figure(figure: go.Figure, scale: float = PROJECTOR_SCALE) -> go.Figure:
    """A copy of `figure` with every font size (template, titles, axes, legend, annotations,
    trace text) times `scale`, and its height times `PROJECTOR_HEIGHT_SCALE`.

    Why a copy walked as a dict: a builder may set sizes anywhere (a subplot title, a
    colour bar, a heatmap's cell text); scaling each "size" under a key that names a font
    reaches them all without each builder knowing about projectors. Marker and line sizes
    are not fonts and stay as they are.
    """
    def scaled(value, in_font=False):
        if isinstance(value, dict):
            return {key: (round(item * scale) if in_font and key == "size" and isinstance(item, (int, float))
                          else scaled(item, key.endswith("font") or (in_font and key != "color")))
                    for key, item in value.items()}
        if isinstance(value, list):
            return [scaled(item, in_font) for item in value]
        return value

    spec = scaled(figure.to_dict())
    layout = spec.setdefault("layout", {})
    layout["height"] = round((layout.get("height") or PROJECTOR_DEFAULT_HEIGHT) * PROJECTOR_HEIGHT_SCALE)
    return go.Figure(spec, skip_invalid=False)
