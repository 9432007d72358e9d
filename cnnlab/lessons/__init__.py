"""Lessons: each lecture claim as a guided live experiment (issue 14).

`lesson` says what a lesson is, `catalog` holds the lessons, `metrics` the figures their
claims are about, `start` starts their runs through the job manager.
"""

from cnnlab.lessons.catalog import BY_NAME, LESSONS, get_lesson
from cnnlab.lessons.lesson import Lesson, LessonRun, Measure, Outcome, differing_fields, is_varied
from cnnlab.lessons.metrics import METRICS, measure
from cnnlab.lessons.start import (
    lesson_figures,
    missing_data,
    start_lesson,
    start_waiting,
    waiting_for,
)

__all__ = ["BY_NAME", "LESSONS", "METRICS", "Lesson", "LessonRun", "Measure", "Outcome",
           "differing_fields", "get_lesson", "is_varied", "lesson_figures", "measure", "missing_data",
           "start_lesson", "start_waiting", "waiting_for"]
