"""Config: the model (`whale.config.model`), loading and validation (`whale.config.loader`).

    from whale.config import load_config
    loaded = load_config("config.json", log_level=args.log_level)
    loaded.log_to(logger)          # "created ..." and deprecation warnings
    cfg = loaded.config            # frozen Config
"""

from whale.config.loader import (
                                 ConfigError,
                                 LoadedConfig,
                                 config_from_data,
                                 default_config_text,
                                 load_config,
                                 with_log_level,
)
from whale.config.model import DEFAULTS, Config, replace_path, to_dict

__all__ = ["Config", "ConfigError", "DEFAULTS", "LoadedConfig", "config_from_data", "default_config_text",
           "load_config", "replace_path", "to_dict", "with_log_level"]
