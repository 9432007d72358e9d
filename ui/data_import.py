"""The Data page's parts: upload a zip of class folders, see what it holds, import it; manage.

Everything the upload holds is shown as plain text (tables, `st.text`) or with markdown
escaped (cnnlab.text.md): file and folder names come from strangers, and a name such as
`![x](http://tracker/)` must not become an image request in a classroom's browsers.
"""

from __future__ import annotations

import streamlit as st

from cnnlab.data.image_folders import (
    MAX_TEST_FRACTION,
    MIN_TEST_FRACTION,
    NotEnoughClasses,
    import_scan,
    scan_images,
)
from cnnlab.data.image_store import delete_stored, list_stored, suggest_name
from cnnlab.data.uploads.limits import upload_limits
from cnnlab.text import code, md
from cnnlab.units import MB, format_bytes

SIZES = (16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256)


def effective_limits():
    """The engine's limits, the upload cap lowered to Streamlit's `server.maxUploadSize` if less.

    Streamlit counts that option in MiB; read here in the lab's MB (a little lower), so the
    cap the page states is the number the administrator set, in the unit every message uses.
    """
    limits = upload_limits()
    streamlit_cap = int(st.get_option("server.maxUploadSize")) * MB
    if streamlit_cap < limits.max_upload_bytes:
        from dataclasses import replace

        limits = replace(limits, max_upload_bytes=streamlit_cap)
    return limits


def upload_section() -> None:
    """The uploader, then the upload's summary and the import form."""
    limits = effective_limits()
    upload = st.file_uploader(
        "Zip of class folders", type=["zip"], key="data_upload",
        help="One folder per class, named after it, holding that class's images (PNG, JPEG, "
             f"GIF, BMP, TIFF or WebP). At most {format_bytes(limits.max_upload_bytes)}, "
             f"{limits.max_images:,} images, {limits.max_pixels:,} pixels per image.")
    if upload is None:
        st.session_state.pop("data_scan", None)  # the upload's bytes go with it
        st.caption("For example ants/001.jpg, ants/002.jpg, bees/001.jpg, … zipped together (a "
                   "single top folder around them is fine). Hidden files and __MACOSX are skipped.")
        return
    scan = _scan(upload, limits)
    if scan is None:
        return
    show_summary(scan)
    import_form(scan)


def _scan(upload, limits):
    """The scan of this upload, made once per uploaded file and kept in the session."""
    cached = st.session_state.get("data_scan")
    if cached is None or cached[0] != upload.file_id:
        bar = st.progress(0.0, text="Reading the images...")
        try:
            result = scan_images(upload, label=upload.name, limits=limits,
                                 progress=_progress(bar, "Reading the images..."))
        except ValueError as error:
            result = error
        bar.empty()
        cached = (upload.file_id, result)
        st.session_state["data_scan"] = cached
        st.session_state["data_name"] = suggest_name(upload.name)
    result = cached[1]
    if isinstance(result, ValueError):
        st.error(md(result), icon=":material/block:")
        if isinstance(result, NotEnoughClasses):
            _skipped_table(result.scan)
        return None
    return result


def _progress(bar, text: str):
    """A progress callback that redraws the bar at most a hundred times, whatever the count."""

    def update(done: int, total: int) -> None:
        if done % max(1, total // 100) == 0:
            bar.progress(done / max(total, 1), text=md(text))

    return update


def show_summary(scan) -> None:
    """What the upload holds: the one-line summary, images per class, notes, skipped files."""
    st.success(md(f"{scan.label}: {scan.text()}"), icon=":material/fact_check:")
    st.dataframe({"class": list(scan.class_names), "images": list(scan.class_counts)},
                 hide_index=True)
    for note in scan.notes:
        st.text(note)
    _skipped_table(scan)


def _skipped_table(scan) -> None:
    if scan.skipped:
        with st.expander(f"Skipped files ({len(scan.skipped):,})"):
            st.dataframe({"file": [item.path for item in scan.skipped],
                          "reason": [item.reason for item in scan.skipped]}, hide_index=True)


def import_form(scan) -> None:
    """Name, image size, test split and seed, then Import."""
    with st.form("data_import_form"):
        name = st.text_input("Name", key="data_name", max_chars=40,
                             help="Lowercase letters, digits, '_' or '-'. The Train page lists "
                                  "it as '<name> (imported)'.")
        size = st.select_slider("Image size (pixels)", SIZES, value=64, key="data_size",
                                help="Images are centre-cropped to a square and resized to this "
                                     "once, at import; a run can still resize them.")
        test_fraction = st.slider("Test split", MIN_TEST_FRACTION, MAX_TEST_FRACTION, 0.2, 0.05,
                                  key="data_test_fraction",
                                  help="Held out once for the final test. Each run draws its "
                                       "validation split from the rest with its own fraction.")
        seed = st.number_input("Seed", min_value=0, value=0, step=1, key="data_seed",
                               help="Seeds the test split.")
        grey = st.checkbox("Store as grayscale", value=scan.grey, key="data_grey",
                           help="One channel instead of three.")
        pool, test = scan.planned_split(test_fraction)
        st.caption(f"{pool:,} images for training and validation, {test:,} for testing.")
        submitted = st.form_submit_button("Import", type="primary")
    if submitted:
        _import(scan, name.strip(), int(size), float(test_fraction), int(seed), 1 if grey else 3)


def _import(scan, name, size, test_fraction, seed, channels) -> None:
    bar = st.progress(0.0, text="Importing...")
    try:
        manifest = import_scan(scan, name, image_size=size, test_fraction=test_fraction, seed=seed,
                               channels=channels, progress=_progress(bar, "Importing..."))
    except ValueError as error:
        bar.empty()
        st.error(md(error), icon=":material/error:")
        return
    bar.empty()
    st.success(md(f"Stored '{manifest.name}': {manifest.description()}"),
               icon=":material/check_circle:")
    train_button(manifest, key=f"data_train_imported_{manifest.name}")


def train_button(manifest, *, key: str) -> None:
    """A button to the Train page with this data set selected (and a batch size it fills).

    Why a callback: the button just after an import is drawn only in the run that imported,
    so on the click's rerun it is not drawn and would read False; a callback runs anyway.
    `follow_train_link` (at the top of the page) then switches page.
    """
    st.button(f"Train on {md(manifest.name)}", key=key, type="primary", icon=":material/play_arrow:",
              on_click=st.session_state.__setitem__, args=("data_train_on", manifest.key))


def follow_train_link() -> None:
    """Open the Train page with the data set a "Train on ..." button chose, if one was pressed."""
    dataset = st.session_state.pop("data_train_on", None)
    if dataset is not None:
        from ui.share_controls import forget_link

        forget_link()  # load the link even if this session followed the same one before
        st.switch_page("pages/1_Train.py", query_params={"dataset": dataset})


def stored_section() -> None:
    """The stored data sets, each with its description and a Delete button (confirmed)."""
    stored = list_stored()
    if not stored:
        st.info("No imported data sets yet. Upload a zip above, or run "
                "`python -m cnnlab import-images FOLDER --name NAME`.")
        return
    confirming = st.session_state.get("data_confirm_delete")
    for manifest in stored:
        with st.container(border=True):
            st.markdown(f"**{md(manifest.name)}** · {code(manifest.key)}")
            st.caption(md(manifest.description()))
            if manifest.skipped_count:
                st.caption(f"{manifest.skipped_count:,} files were skipped at import.")
            if confirming != manifest.name:
                with st.container(horizontal=True, key=f"data_actions_{manifest.name}"):
                    train_button(manifest, key=f"data_train_{manifest.name}")
                    if st.button("Delete", key=f"data_delete_{manifest.name}"):
                        st.session_state["data_confirm_delete"] = manifest.name
                        st.rerun()
            else:
                st.warning("Delete it? Runs that trained on it keep their results but cannot "
                           "be repeated.", icon=":material/warning:")
                with st.container(horizontal=True, key=f"data_confirm_{manifest.name}"):
                    if st.button("Yes, delete", key=f"data_delete_yes_{manifest.name}", type="primary"):
                        _delete(manifest.name)
                    if st.button("Cancel", key=f"data_delete_no_{manifest.name}"):
                        st.session_state.pop("data_confirm_delete", None)
                        st.rerun()


def _delete(name: str) -> None:
    st.session_state.pop("data_confirm_delete", None)
    try:
        delete_stored(name)
    except ValueError as error:
        st.error(md(error), icon=":material/error:")
        return
    st.toast(f"Deleted {md(name)}.")
    st.rerun()
