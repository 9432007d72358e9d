"""Training: the job manager, the instrumented model and the callbacks that feed the store."""

from cnnlab.training.runner import JobManager

__all__ = ["JobManager"]
