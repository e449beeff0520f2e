"""dcom: a hardware generator for D-com, the Lanczos bidiagonalization accelerator."""

from dcom.config import ConfigError, DcomConfig

__all__ = ["ConfigError", "DcomConfig", "__version__"]
__version__ = "0.1.0"
