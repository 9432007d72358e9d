"""Lessons: a lecture claim as a guided live experiment, its runs side by side."""

from __future__ import annotations

import streamlit as st

from ui.layout import page_setup
from ui.lesson_view import lesson_intro, lesson_picker, show_lesson_runs, start_button, started_runs

page_setup("Lessons")
st.title("Lessons")
st.caption("Each lesson is a claim from the lectures, shown live: ask the class the question, "
           "press Start, and watch the runs, which differ only in the trick, train side by side.")

lesson = lesson_picker()
lesson_intro(lesson)
started = started_runs(lesson)
start_button(lesson, started)
if started:
    show_lesson_runs(lesson, started)
