"""What a lesson is: a lecture claim, the runs that show it, and how its effect is measured.

Why data: a teacher's question ("does batch norm let me raise the learning rate?") maps to
a few runs that differ in one trick, a chart and a number; keeping that as plain data
(`cnnlab.lessons.catalog`) lets the Lessons page, the benchmark and the tests read the same
lesson, and a test check that the runs differ only in the fields the lesson names.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from cnnlab.config import ExperimentConfig, flatten

# The views that show a lesson's effect: the chart the Lessons page draws first, and where
# to go further (a Compare tab, a tab of the Train page's run panel).
CHARTS = {
    "curves": ("Curves", "Curves"),            # loss and accuracy against epochs
    "time": ("Curves", "Curves"),              # training loss against seconds and epochs
    "gradients": ("Gradients", "Gradients"),   # per-layer gradient heatmaps side by side
    "gap": ("Difference from baseline", "Curves"),  # generalization gap per run
}


@dataclass(frozen=True)
class LessonRun:
    """One run of a lesson: a label the class sees, and how it differs from the lesson's base.

    Args:
        label: short, shown in legends ("too small", "ReLU + He").
        overrides: dotted fields applied to the lesson's base config.
        starts_from: the label of another run of the lesson whose finished weights this
            one starts from (`transfer.start_from_run`); it is started once that run has
            completed.
        source: it only trains the weights other runs start from (on other data, at
            another scale), so it is not one of the runs compared.
    """

    label: str
    overrides: dict = field(default_factory=dict)
    starts_from: str | None = None
    source: bool = False


@dataclass(frozen=True)
class Measure:
    """The number a lesson's claim is about, and which run should come out better.

    Args:
        metric: a name in `cnnlab.lessons.metrics.METRICS`.
        better: label of the run the claim says ends better.
        worse: label of the run it says ends worse.
    """

    metric: str
    better: str
    worse: str


@dataclass(frozen=True)
class Lesson:
    """A lecture claim as a guided live experiment.

    Args:
        name: a stable identifier (`vanishing_gradients`).
        title: what the page lists.
        claim: the lecture's claim in one or two sentences.
        question: the prediction question to ask the class before starting.
        base: dotted overrides of the default experiment that every run shares (data,
            scale, seed).
        runs: the runs, each differing from `base` only in `varies`.
        varies: the dotted fields (or sections, ending in ".") the runs may differ in.
        chart: which view shows the effect (a key of CHARTS).
        look_for: what to look for in that chart.
        measure: the figure the claim is about.
        scale: the scale used, in words (data, image size, epochs).
        measured: the figure measured on this machine when the lesson was written.
        needs: a data set that must be available offline (e.g. in Keras' cache), or None.
        caveat: where the measured effect did not clear the noise or the time limit, what
            the page must say plainly; None where it did.
    """

    name: str
    title: str
    claim: str
    question: str
    base: dict
    runs: tuple[LessonRun, ...]
    varies: tuple[str, ...]
    chart: str
    look_for: str
    measure: Measure
    scale: str
    measured: str
    needs: str | None = None
    caveat: str | None = None

    def __post_init__(self):
        labels = [run.label for run in self.runs]
        assert len(set(labels)) == len(labels), f"{self.name}: duplicate run labels"
        assert self.chart in CHARTS, f"{self.name}: unknown chart {self.chart!r}"
        assert {self.measure.better, self.measure.worse} <= set(labels), self.name
        for run in self.runs:
            assert run.starts_from in (None, *labels), f"{self.name}: {run.starts_from!r}"

    @property
    def compared(self) -> tuple[LessonRun, ...]:
        """The runs the lesson compares: all but a source run."""
        return tuple(run for run in self.runs if not run.source)

    @property
    def compare_tab(self) -> str:
        return CHARTS[self.chart][0]

    @property
    def panel_tab(self) -> str:
        return CHARTS[self.chart][1]

    def base_config(self, seed: int | None = None, extra: dict | None = None) -> ExperimentConfig:
        """The config every run starts from; `seed` and `extra` (a reduced scale for a
        test) apply to all runs alike."""
        overrides = {**self.base, **(extra or {})}
        if seed is not None:
            overrides["seed"] = seed
        return ExperimentConfig().with_overrides(overrides)

    def run(self, label: str) -> LessonRun:
        for run in self.runs:
            if run.label == label:
                return run
        raise ValueError(f"Unknown run of lesson {self.name!r}. Expected one of "
                         f"{[run.label for run in self.runs]}. Received: {label!r}.")

    def config(self, label: str, *, seed: int | None = None, extra: dict | None = None,
               start_from_run: str | None = None) -> ExperimentConfig:
        """The config of the run `label`; `start_from_run` is the finished run id its
        `starts_from` names."""
        run = self.run(label)
        overrides = dict(run.overrides)
        if run.starts_from is not None:
            if start_from_run is None:
                raise ValueError(f"Run {label!r} of lesson {self.name!r} starts from the run "
                                 f"{run.starts_from!r}. Expected that run's id. Received: None. "
                                 "Start it once that run has completed.")
            overrides["transfer.start_from_run"] = start_from_run
        return self.base_config(seed, extra).with_overrides(overrides)

    def run_name(self, label: str) -> str:
        """The name a run of this lesson is stored under."""
        return f"{self.title}: {label}"


def differing_fields(configs: list[ExperimentConfig]) -> set[str]:
    """The dotted fields whose values are not the same in all `configs`."""
    flats = [flatten(config.to_dict()) for config in configs]
    keys = set().union(*flats)
    return {key for key in keys if len({repr(flat.get(key)) for flat in flats}) > 1}


def is_varied(path: str, varies: tuple[str, ...]) -> bool:
    """Whether dotted `path` is one of `varies` or inside a section it names ("augmentation.")."""
    return any(path == name or (name.endswith(".") and path.startswith(name)) for name in varies)


@dataclass(frozen=True)
class Outcome:
    """A lesson's claim against measured values: each side's mean and standard deviation.

    The claim holds when the better run is better by more than twice the larger of the two
    standard deviations over seeds (with one seed: when it is better at all).
    """

    better: tuple[float, ...]
    worse: tuple[float, ...]
    lower_is_better: bool

    @property
    def effect(self) -> float:
        """How much better the better run is (in the metric's units; > 0: as claimed)."""
        difference = statistics.fmean(self.worse) - statistics.fmean(self.better)
        return difference if self.lower_is_better else -difference

    @property
    def sd(self) -> float:
        """The larger of the two sides' standard deviations (0 with one seed)."""
        return max(_sd(self.better), _sd(self.worse))

    @property
    def holds(self) -> bool:
        effect = self.effect
        return math.isfinite(effect) and effect > 0 and effect > 2 * self.sd


def _sd(values) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0
