"""Training jobs under the SageMaker script-mode container contract."""
