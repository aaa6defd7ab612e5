"""The built-in demo world: procedural scenes with exact labels (see ``scene``)."""

from ganscope.world.scene import CATEGORIES, CONCEPTS, LABEL, Scenes, render

__all__ = ["CATEGORIES", "CONCEPTS", "LABEL", "Scenes", "render"]
