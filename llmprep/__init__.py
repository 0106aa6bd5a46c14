"""llmprep: a command-line quiz for LLM and ML-infrastructure interviews."""

__version__ = "0.1.0"
