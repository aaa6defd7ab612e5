"""Write the demo's example photos to examples/photos/: held-out world renders and hand-edited ones.

The demo generator and segmenter trained on world seed 1 (held-out evaluation uses seeds 2 and 3);
these photos come from seed 17, so the generator never saw them. The edited ones move a render off the
generator's manifold: a tree cut out of one render and pasted onto another's grass, and a sky repainted
in a colour the world never draws.

    .venv/bin/python scripts/photo_examples.py [--out examples/photos]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganscope.images import save_png
from ganscope.world import LABEL, render

PHOTO_SEED = 17
RENDERS = (0, 3, 9, 10)


def paste_tree(scenes: torch.Tensor, labels: torch.Tensor, source: int, target: int, shift: int) -> torch.Tensor:
    """Render ``target`` with ``source``'s tree pixels moved ``shift`` columns sideways (wrapping round)."""
    tree = (labels[source] == LABEL["tree"]).roll(shift, dims=1)
    return torch.where(tree, scenes[source].roll(shift, dims=2), scenes[target])


def sunset(image: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The render with its sky painted an orange gradient (a colour no world scene has)."""
    rows = torch.linspace(0.9, 0.2, image.shape[1])[:, None].expand(image.shape[1:])
    orange = torch.stack([torch.full_like(rows, 0.95), rows, torch.full_like(rows, -0.6)])
    return torch.where(labels == LABEL["sky"], orange, image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples/photos"))
    args = parser.parse_args()
    scenes = render(range(16), seed=PHOTO_SEED)
    for index in RENDERS:
        save_png(args.out / f"world-{PHOTO_SEED}-{index}.png", scenes.images[index])
    save_png(args.out / "edited-tree-pasted.png", paste_tree(scenes.images, scenes.labels, 10, 0, 20))
    save_png(args.out / "edited-sunset.png", sunset(scenes.images[3], scenes.labels[3]))
    print(f"wrote {len(RENDERS) + 2} photos to {args.out}")


if __name__ == "__main__":
    main()
