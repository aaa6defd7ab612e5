"""Known real checkpoints: where they come from, what they hold, and where the cache keeps them.

The original tools publish files named ``NAME-XXXXXXXX.pth`` where ``XXXXXXXX`` is the
start of the file's sha256 (the torch.hub convention); that prefix is what we check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ganscope.errors import GanscopeError

PROGGAN_URL = "https://dissect.csail.mit.edu/models/"
STYLEGAN2_URL = "http://rewriting.csail.mit.edu/data/models/"
PROGGAN_LICENCE = "CC BY-NC 4.0"  # the weights of Karras et al., progressive_growing_of_gans
STYLEGAN2_LICENCE = "Nvidia Source Code License-NC"  # the official StyleGAN2 weights, converted


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    architecture: str  # a generator registry name: the spec is f"{architecture}:{name}"
    resolution: int
    filename: str
    url: str
    sha256: str  # the full digest or its published prefix
    licence: str
    notes: str = ""

    @property
    def layers(self) -> list[str]:
        """The dissectable layer names of this architecture at this resolution."""
        doublings = self.resolution.bit_length() - 3  # resolutions above 4x4
        if self.architecture == "proggan":
            res = self.resolution
            return [f"layer{i}" for i in range(1, 2 * doublings + 3)] + [f"output_{res}x{res}"]
        return (["conv1", *(f"convs.{i}" for i in range(2 * doublings)), "to_rgb1",
                 *(f"to_rgbs.{i}" for i in range(doublings))])

    @property
    def layer_summary(self) -> str:
        doublings = self.resolution.bit_length() - 3
        if self.architecture == "proggan":
            return f"layer1..layer{2 * doublings + 2}, {self.layers[-1]}"
        return f"conv1, convs.0..{2 * doublings - 1}, to_rgb1, to_rgbs.0..{doublings - 1}"

    @property
    def spec(self) -> str:
        return f"{self.architecture}:{self.name.removeprefix(self.architecture + '-')}"


def _proggan(domain: str, file: str, resolution: int = 256, notes: str = "") -> CatalogEntry:
    return CatalogEntry(f"proggan-{domain}", "proggan", resolution, file, PROGGAN_URL + file,
                        file.rsplit("-", 1)[1].split(".")[0], PROGGAN_LICENCE, notes or f"LSUN {domain}")


def _stylegan2(domain: str, file: str, resolution: int, notes: str) -> CatalogEntry:
    return CatalogEntry(f"stylegan2-{domain}", "stylegan2", resolution, file, STYLEGAN2_URL + file,
                        file.rsplit("-", 1)[1].split(".")[0], STYLEGAN2_LICENCE, notes)


CATALOG: dict[str, CatalogEntry] = {e.name: e for e in [
    _proggan("bedroom", "proggan_bedroom-d8a89ff1.pth"),
    _proggan("churchoutdoor", "proggan_churchoutdoor-7e701dd5.pth"),
    _proggan("conferenceroom", "proggan_conferenceroom-21e85882.pth"),
    _proggan("diningroom", "proggan_diningroom-3aa0ab80.pth"),
    _proggan("kitchen", "proggan_kitchen-67f1e16c.pth"),
    _proggan("livingroom", "proggan_livingroom-5ef336dd.pth"),
    _proggan("restaurant", "proggan_restaurant-b8578299.pth"),
    _proggan("celebhq", "proggan_celebhq-620d161c.pth", 1024, "CelebA-HQ faces"),
    _stylegan2("church", "stylegan2_church-e8ca9fd0.pt", 256, "LSUN church (config-f)"),
    _stylegan2("car", "stylegan2_car-3659b4b6.pt", 512, "LSUN car (config-f)"),
    _stylegan2("cat", "stylegan2_cat-d8dc98b2.pt", 256, "LSUN cat (config-f)"),
    _stylegan2("horse", "stylegan2_horse-499b5380.pt", 256, "LSUN horse (config-f)"),
    _stylegan2("faces", "stylegan2_faces-2858cc2e.pt", 1024, "FFHQ faces (config-f)"),
]}


def cache_dir() -> Path:
    """``$GANSCOPE_CACHE``, else ``~/.cache/ganscope``."""
    return Path(os.environ.get("GANSCOPE_CACHE") or Path.home() / ".cache" / "ganscope")


def cached_path(entry: CatalogEntry) -> Path:
    return cache_dir() / entry.filename


def lookup(name: str) -> CatalogEntry:
    entry = CATALOG.get(name)
    if entry is None:
        raise GanscopeError(f"unknown model {name!r}; `ganscope models` lists: {', '.join(CATALOG)}")
    return entry


def checkpoint_path(arg: str, architecture: str) -> Path:
    """A spec's PATH: an existing file, else a catalog name (``church`` or ``proggan-church``) in the cache."""
    path = Path(arg).expanduser()
    if path.exists():
        return path
    entry = CATALOG.get(arg) or CATALOG.get(f"{architecture}-{arg}")
    if entry is None or entry.architecture != architecture:
        raise GanscopeError(f"checkpoint not found: {arg} (neither a file nor a {architecture} entry "
                            "of `ganscope models`)")
    file = cached_path(entry)
    if not file.is_file():
        raise GanscopeError(f"{entry.name} is not downloaded yet: run `ganscope fetch {entry.name}` "
                            f"or put {entry.url} at {file}")
    from ganscope.models.integrity import check_once

    check_once(file, entry.sha256, str(file))
    return file
