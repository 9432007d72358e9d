"""The experiment config: `ExperimentConfig` and its sections, each field validated in one place.

`experiment` holds the config, `sections` its parts (tricks, optimizer options, schedule,
early stopping, augmentation, transfer), `fields` the field metadata and the validator,
`dotted` the dotted paths (`tricks.dropout_rate=0.5`) that the CLI, links and comparisons use.
"""

from cnnlab.config.dotted import flatten, parse_changes, parse_overrides, parse_value
from cnnlab.config.experiment import ExperimentConfig, fitted_batch_size
from cnnlab.config.fields import field_bounds, field_help, from_dict
from cnnlab.config.sections import (
    ACTIVATIONS,
    DROPOUT_PLACEMENTS,
    FILL_MODES,
    INITIALIZERS,
    LOSSES,
    MONITORS,
    NORM_POSITIONS,
    OPTIMIZERS,
    SCHEDULE_PARAMETERS,
    SCHEDULE_UNITS,
    SCHEDULES,
    TRANSFER_MODES,
    WEIGHTS,
    AugmentationConfig,
    EarlyStoppingConfig,
    OptimizerOptions,
    ScheduleConfig,
    TransferConfig,
    Tricks,
)

__all__ = ["ACTIVATIONS", "DROPOUT_PLACEMENTS", "FILL_MODES", "INITIALIZERS", "LOSSES", "MONITORS",
           "NORM_POSITIONS", "OPTIMIZERS", "SCHEDULE_PARAMETERS", "SCHEDULES", "SCHEDULE_UNITS",
           "TRANSFER_MODES", "WEIGHTS", "AugmentationConfig", "EarlyStoppingConfig",
           "ExperimentConfig", "OptimizerOptions", "ScheduleConfig", "TransferConfig", "Tricks",
           "field_bounds", "field_help", "fitted_batch_size", "flatten", "from_dict",
           "parse_changes", "parse_overrides", "parse_value"]
