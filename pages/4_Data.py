"""Data: import a zip of class folders as a data set, and manage the imported ones."""

from __future__ import annotations

import streamlit as st

from ui.data_import import follow_train_link, stored_section, upload_section
from ui.layout import page_setup

page_setup("Data")
follow_train_link()
st.title("Data")
st.caption("Bring your own images: a zip with one folder per class becomes a data set that "
           "the Train page offers beside the built-in ones. You see what the zip holds, and "
           "what is skipped and why, before anything is stored.")

st.subheader("Import a zip of class folders")
upload_section()

st.subheader("Imported data sets")
stored_section()
