"""Why a run trains as it does: health alerts, then tabs of curves, gradients, confusion.

Drawn inside the run panel's fragment, so every view follows a training run at most one
poll behind. The tabs track which one is open and only the open tab's content runs: a
poll redraws one tab, not three. Everything the fragment must not redo every second is
kept: a run's stored predictions per (run, epoch) in session state, its validation images
in the data cache (`load_dataset` caches per process).
"""

from __future__ import annotations

import functools

import streamlit as st

from cnnlab.analysis import insight
from cnnlab.analysis.alerts import first_to_last_ratio, health_alerts
from cnnlab.charts import insight as insight_charts
from cnnlab.charts import training as training_charts
from cnnlab.data.images import for_display
from cnnlab.text import md, plot_all
from ui.projector import plotly_chart

TABS = ("Curves", "Gradients", "Confusion")
LAYER_KINDS = {"Gradient norm": "grad_norm", "Weight norm": "weight_norm",
               "Update / weight": "update_ratio"}
# Alerts that mean the run is not learning, or its validation means nothing, are errors;
# the others are warnings.
SERIOUS_ALERTS = ("learning_rate", "diverged", "chance", "exploding", "vanishing")
PLOTLY_CONFIG = {"displaylogo": False}
MISCLASSIFIED_SHOWN = 10
IMAGE_COLUMNS = 5
PREDICTIONS_KEPT = 4  # (run, epoch) entries of stored predictions held in session state


def show_alerts(history, record) -> None:
    """Each health alert the run's figures support, likeliest cause first, with its remedy."""
    alerts = history.shared(("alerts", record.status),
                            lambda: health_alerts(history, status=record.status, config=record.config))
    for alert in alerts:
        if alert.kind == "diverged" and record.error:
            continue  # the run's own error message already says it, with the rate used
        box = st.error if alert.kind in SERIOUS_ALERTS else st.warning
        box(f"**{alert.title}.** {alert.detail}\n\n**What to do:** {alert.remedy}",
            icon=":material/error:" if alert.kind in SERIOUS_ALERTS else ":material/warning:")


def show_insight(run_id: str, record, history, store) -> None:
    """The tabs of one run; only the open one is drawn."""
    curves, gradients, confusion = st.tabs(TABS, key=f"train_insight_tab_{run_id}", on_change="rerun")
    progress = record.progress or {}
    steps_per_epoch = progress.get("steps_per_epoch")
    # While a run trains, the x axes span its planned epochs, so the curves grow into a
    # fixed frame; once it ended (stopped, early-stopped), they span what it trained.
    total_epochs = record.config.get("epochs") if record.is_active else None
    if curves.open:
        with curves:
            _curves(run_id, record, history, steps_per_epoch, total_epochs)
    if gradients.open:
        with gradients:
            _gradients(run_id, history, steps_per_epoch, total_epochs)
    if confusion.open:
        with confusion:
            _confusion(run_id, record, store)


def _curves(run_id, record, history, steps_per_epoch, total_epochs) -> None:
    # Built once for every session watching these rows (history.shared; cnnlab.analysis.live).
    figure = history.shared(("curves", steps_per_epoch, total_epochs), lambda: training_charts.training_curves(
        history.epochs, history.batches, steps_per_epoch=steps_per_epoch, total_epochs=total_epochs))
    plotly_chart(figure, key=f"train_curves_{run_id}", config=PLOTLY_CONFIG, theme=None)
    # One chart under the other, each the panel's full width: side by side, at 1024 px a
    # chart was 140 px wide and its title cut.
    metric = _kept(st.radio, "Generalization gap in", ["loss", "accuracy"], horizontal=True,
                   key=f"train_gap_metric_{run_id}",
                   help="How much worse validation is than training, shaded between the "
                        "two curves: positive and growing means overfitting. The star is "
                        "the best epoch (lowest validation loss, or early stopping's).")
    final = record.final_metrics or {}
    best, early = _int_or_none(final.get("best_epoch")), _int_or_none(final.get("early_stopping_epoch"))
    figure = history.shared(("gap", metric, best, early, total_epochs), lambda: insight_charts.generalization_gap(
        history.epochs, metric=metric, best_epoch=best, early_stopping_epoch=early, total_epochs=total_epochs))
    plotly_chart(figure, key=f"train_gap_{run_id}", config=PLOTLY_CONFIG, theme=None)
    st.caption("The learning rate each batch used: a schedule's decay, a plateau's drops, "
               "the lower rate of fine-tuning.")
    figure = history.shared(("learning_rate", steps_per_epoch), lambda: insight_charts.learning_rate_figure(
        history.batches, steps_per_epoch=steps_per_epoch))
    plotly_chart(figure, key=f"train_learning_rate_{run_id}", config=PLOTLY_CONFIG, theme=None)


def _gradients(run_id, history, steps_per_epoch, total_epochs) -> None:
    grads = history.layer_table("grad_norm")
    if grads.empty:
        st.info("The per-layer figures appear after the first recorded training step.")
        return
    label = _kept(st.radio, "Per-layer figure", list(LAYER_KINDS), horizontal=True,
                  key=f"train_layer_kind_{run_id}",
                  help="Gradient norm: how strongly each layer's weights are pushed. Weight "
                       "norm: how large they are. Update / weight: how much one step "
                       "changes them (about 1e-3 when the learning rate is right).")
    kind = LAYER_KINDS[label]
    table = history.layer_table(kind)
    st.caption("A row per layer's kernel, input at the top; colour on a log scale. Rows that "
               "stay dark near the input while the output is bright: vanishing gradients.")
    plotly_chart(
        history.shared(("layer_heatmap", kind, steps_per_epoch), lambda: insight_charts.layer_heatmap(
            table, kind=kind, steps_per_epoch=steps_per_epoch)),
        key=f"train_layer_heatmap_{run_id}", config=PLOTLY_CONFIG, theme=None)
    plotly_chart(history.shared(("layer_bars", kind), lambda: insight_charts.latest_layer_bars(table, kind=kind)),
                    key=f"train_layer_bars_{run_id}", config=PLOTLY_CONFIG, theme=None)
    plotly_chart(
        history.shared(("gradient_ratio", steps_per_epoch, total_epochs), lambda: insight_charts.gradient_ratio_figure(
            first_to_last_ratio(grads), steps_per_epoch=steps_per_epoch, total_epochs=total_epochs)),
        key=f"train_gradient_ratio_{run_id}", config=PLOTLY_CONFIG, theme=None)
    dead = history.layer_table("dead_fraction")
    if not dead.empty:
        plotly_chart(history.shared("dead_relu", lambda: insight_charts.dead_relu_figure(dead)),
                        key=f"train_dead_relu_{run_id}", config=PLOTLY_CONFIG, theme=None)


def _confusion(run_id, record, store) -> None:
    epochs = insight.prediction_epochs(store, run_id)
    if not epochs:
        st.info("The confusion matrix appears when the first epoch ends (it needs a "
                "validation split).")
        return
    epoch = _epoch_slider(run_id, epochs)
    loaded = _predictions(store, run_id, epoch)
    if loaded is None:
        st.info(f"The validation predictions of epoch {epoch:d} are not stored.")
        return
    labels, probabilities = loaded
    data = insight.validation_data(record.config, labels)
    num_classes = probabilities.shape[1]
    names = [str(name) for name in data.class_names] if data is not None else [str(i) for i in range(num_classes)]
    matrix = insight.confusion(labels, probabilities, num_classes)

    # Each metric as wide as its text, wrapping to a new row rather than cutting a label.
    with st.container(horizontal=True, gap="large", key=f"train_confusion_scores_{run_id}"):
        st.metric("Top-1 accuracy", f"{insight.top_k_accuracy(labels, probabilities, 1):.1%}",
                  width="content")
        top_k, hidden = insight.top_k_plan(num_classes)
        if top_k is not None:
            st.metric(f"Top-{top_k} accuracy",  # text: lab-written (top_k is a number)
                      f"{insight.top_k_accuracy(labels, probabilities, top_k):.1%}",
                      width="content", help="The share of images whose true class is among "
                      f"the {top_k} most probable.")
        st.metric("Validation images", f"{len(labels):,}", width="content")
    if hidden:
        st.caption(hidden)  # text: lab-written (cnnlab.analysis.insight.top_k_plan's reason)

    true_key, predicted_key = f"train_confusion_true_{run_id}", f"train_confusion_predicted_{run_id}"
    _restore(true_key)
    _restore(predicted_key)
    if true_key not in st.session_state or predicted_key not in st.session_state:
        st.session_state[true_key], st.session_state[predicted_key] = insight.worst_confusion(matrix)
    chart_key = f"train_confusion_{run_id}"
    st.caption("A row per true class, a column per predicted class; colour is the share of "
               "the true class. Click a cell to see its images below.")
    selected = (st.session_state[true_key], st.session_state[predicted_key])
    figure = insight_charts.confusion_figure(
        matrix, names, title=f"Validation set after epoch {epoch}", selected=selected)
    plotly_chart(figure, key=chart_key, config=PLOTLY_CONFIG, theme=None, selection_mode="points",
                    on_select=functools.partial(_cell_clicked, chart_key, true_key, predicted_key, names))
    choose_true, choose_predicted, _ = st.columns([1, 1, 2])
    with choose_true:
        true_class = _kept(st.selectbox, "True class", range(num_classes), key=true_key,
                           format_func=names.__getitem__)
    with choose_predicted:
        predicted_class = _kept(st.selectbox, "Predicted as", range(num_classes),
                                key=predicted_key, format_func=names.__getitem__)
    _cell_images(labels, probabilities, true_class, predicted_class, names, data)

    st.markdown("**Per class**")
    st.caption("Precision: of the images predicted as the class, the share that are. Recall: of "
               "the class's images, the share found. F1: their harmonic mean.")
    report = insight.class_report(labels, probabilities, names)
    progress = {"min_value": 0.0, "max_value": 1.0, "format": "percent"}
    st.dataframe(report, key=f"train_class_report_{run_id}",
                 height="content" if num_classes <= 20 else "auto", column_config={
        "precision": st.column_config.ProgressColumn("precision", **progress),
        "recall": st.column_config.ProgressColumn("recall", **progress),
        "f1": st.column_config.ProgressColumn("F1", **progress),
        "support": st.column_config.NumberColumn("images"),
    })


def _epoch_slider(run_id: str, epochs: list[int]) -> int:
    """The epoch whose predictions are shown: the newest one while "Follow the newest
    epoch" is on (the default, so the matrix moves as the run trains), else the one the
    user picks on a slider.

    Why a toggle rather than a slider that follows until moved: telling a user's move from
    a stale value (a poll cut short sends the browser's old value back) is guesswork, and a
    wrong guess freezes the matrix while the run trains on. A toggle changes only by hand.
    """
    key, follow_key = f"train_confusion_epoch_{run_id}", f"train_confusion_follow_{run_id}"
    follow_column, epoch_column = st.columns([1, 2], vertical_alignment="center")
    with follow_column:
        follow = _kept(st.toggle, "Follow the newest epoch", value=True, key=follow_key,
                       help="Off: pick any epoch of the run on a slider.")
    if follow or len(epochs) == 1:
        # Where the slider starts when following is switched off.
        st.session_state[key] = st.session_state[f"{key}_kept"] = epochs[-1]
        epoch_column.markdown(f"Epoch **{epochs[-1]:d}** of {len(epochs)} so far")
        return epochs[-1]
    _restore(key)
    if st.session_state.get(key) not in epochs:
        st.session_state[key] = epochs[-1]
    with epoch_column:
        return _kept(st.select_slider, "Epoch", options=epochs, key=key,
                     help="The validation predictions after this epoch.")


def _predictions(store, run_id: str, epoch: int):
    """(labels, probabilities) after `epoch`, read from the store once per session."""
    cache = st.session_state.setdefault("train_predictions", {})
    if (run_id, epoch) not in cache:
        loaded = insight.load_predictions(store, run_id, epoch)
        if loaded is None:
            return None
        cache[(run_id, epoch)] = loaded
        while len(cache) > PREDICTIONS_KEPT:
            cache.pop(next(iter(cache)))
    return cache[(run_id, epoch)]


def _cell_clicked(chart_key: str, true_key: str, predicted_key: str, names: list[str]) -> None:
    """A click on the matrix chooses its cell in the two select boxes."""
    state = st.session_state.get(chart_key)
    points = state.selection.points if state is not None else []
    if not points:
        return
    point = points[0]
    x, y = str(point.get("x")), str(point.get("y"))
    shown = plot_all(names)  # the chart's axes carry the names escaped for Plotly
    if x in shown and y in shown:
        st.session_state[true_key], st.session_state[predicted_key] = shown.index(y), shown.index(x)


def _cell_images(labels, probabilities, true_class, predicted_class, names, data) -> None:
    indices = insight.misclassified(labels, probabilities, true_class, predicted_class)
    true_name, predicted_name = names[true_class], names[predicted_class]
    images = "image" if len(indices) == 1 else "images"
    if true_class == predicted_class:
        st.markdown(f"**{len(indices)}** {md(images)} of **{md(true_name)}** classified right, most "
                    f"confident first. Under each: P({md(true_name)}).")
    else:
        st.markdown(f"**{len(indices)}** {md(images)} of **{md(true_name)}** predicted as "
                    f"**{md(predicted_name)}**, most confident first. Under each: "
                    f"P({md(predicted_name)}) · P({md(true_name)}).")
    if not len(indices):
        return
    if data is None:
        st.caption("The validation images could not be loaded to show them.")
        return
    shown = indices[:MISCLASSIFIED_SHOWN]
    columns = st.columns(IMAGE_COLUMNS)
    for position, index in enumerate(shown):
        caption = f"{probabilities[index, predicted_class]:.0%}"
        if true_class != predicted_class:
            caption += f" · {probabilities[index, true_class]:.0%}"
        columns[position % IMAGE_COLUMNS].image(for_display(data.x_val[index], 160), caption=md(caption),
                                                width="stretch")
    if len(indices) > len(shown):
        st.caption(f"The {len(shown)} most confident of {len(indices)} shown.")


def _restore(key: str) -> None:
    """Give back a widget its value from before its tab was closed.

    Why: Streamlit forgets the state of a widget that a run does not draw, and a closed
    tab's widgets are not drawn; `_kept` keeps a copy under a key no widget owns.
    """
    if key not in st.session_state and f"{key}_kept" in st.session_state:
        st.session_state[key] = st.session_state[f"{key}_kept"]


def _kept(widget, *args, key: str, **kwargs):
    """`widget(*args, key=key, **kwargs)`, its value surviving a closed tab (see `_restore`)."""
    _restore(key)
    value = widget(*args, key=key, **kwargs)
    st.session_state[f"{key}_kept"] = value
    return value


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)
