"""Image rectified flow (noise at t = 0, data at t = 1).

- :mod:`.unet`  the UNet velocity network v_theta(x, t), its :class:`UNetConfig` and :data:`UNET_PRESETS`
"""

from .unet import UNET_PRESETS, UNet, UNetConfig, build_unet, count_parameters

__all__ = ["UNET_PRESETS", "UNet", "UNetConfig", "build_unet", "count_parameters"]
