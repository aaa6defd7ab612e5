"""The ADE20K SceneParsing vocabulary (150 classes, in the benchmark's order) and its categories.

Most classes are objects. Parts are classes that are usually a piece of a larger object
in scenes (the GAN Dissection papers count doors and windows as parts of buildings);
materials are classes named for the substance of a surface. The split is a judgement call
kept in this small table so that it can be reviewed and changed in one place.
"""

from __future__ import annotations

ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path",
    "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase",
    "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
    "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel",
    "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver", "airplane",
    "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster",
    "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool",
    "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture",
    "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)

PARTS = frozenset({
    "windowpane", "door", "screen door", "railing", "column", "stairs", "stairway", "step", "awning", "canopy",
    "countertop", "bannister", "base", "hood", "pole", "blind", "signboard",
})
MATERIALS = frozenset({"grass", "earth", "water", "sand", "rock", "dirt track", "land", "glass"})


def category(name: str) -> str:
    """Category of an ADE20K class name (HF configs may add synonyms after a comma or semicolon)."""
    key = name.replace(";", ",").split(",")[0].strip().lower()
    return "part" if key in PARTS else "material" if key in MATERIALS else "object"


# The ADE20K SegFormers NVIDIA published on the Hugging Face hub (Xie et al. 2021), for `ganscope models`:
# get one with `huggingface-cli download REPO --local-dir DIR`, then use --segmenter segformer:DIR.
SEGFORMER_ADE = {f"segformer-{size}-ade": (f"nvidia/segformer-{size}-finetuned-ade-{side}-{side}", side)
                 for size, side in [("b0", 512), ("b1", 512), ("b2", 512), ("b3", 512), ("b4", 512), ("b5", 640)]}
