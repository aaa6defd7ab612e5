"""Dissection results: dataclasses, a versioned JSON schema, atomic save and checked load.

A results directory holds ``results.json`` (what other programs read) and
``tables.safetensors`` (full per-layer IoU tables and top-k activation maps, which
the report, ``ace --top`` and the server use).
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch

from ganscope.io import GanscopeError, load_weights, save_weights, write_json

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
TABLES_FILE = "tables.safetensors"


@dataclass
class UnitResult:
    unit: int
    threshold: float
    label: str
    category: str
    iou: float
    top_concepts: list[tuple[str, float]]
    top_samples: list[int]
    insertion_value: float  # the unit's 99.5th-percentile upsampled activation
    mean: float
    std: float


@dataclass
class LayerResult:
    name: str
    shape: list[int]  # units, h, w
    units: list[UnitResult]
    interpretable: dict[str, int]
    threshold_bound: float  # the largest bin width: |threshold - exact quantile| <= this
    tail_warnings: list[int] = field(default_factory=list)  # units whose threshold fell outside the tally range

    def unit(self, index: int) -> UnitResult:
        return self.units[index]


@dataclass
class Upsampling:
    """How activation maps were resized to the segmentation size before thresholding."""

    mode: str
    align_corners: bool
    size: list[int]


@dataclass
class Results:
    model: str
    segmenter: str
    samples: int
    seed: int
    threshold_rule: str
    quantile: float
    iou_cutoff: float
    concepts: list[dict[str, str]]
    layers: dict[str, LayerResult]
    upsampling: Upsampling
    image_size: list[int]
    elapsed_seconds: float = 0.0
    schema_version: int = SCHEMA_VERSION
    tables: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def concept_names(self) -> list[str]:
        return [c["name"] for c in self.concepts]

    def iou_table(self, layer: str) -> torch.Tensor:
        """IoU (units, concepts) of a layer, concept 0 (unlabelled) included as zeros."""
        return self.tables[f"{layer}/iou"]

    def top_units(self, layer: str, concept: str, n: int) -> list[int]:
        """The n units of ``layer`` with the highest IoU for ``concept``."""
        if concept not in self.concept_names[1:]:
            raise GanscopeError(f"unknown concept {concept!r}; concepts are: {', '.join(self.concept_names[1:])}")
        if layer not in self.layers:
            raise GanscopeError(f"layer {layer!r} was not dissected; layers are: {', '.join(self.layers)}")
        column = self.iou_table(layer)[:, self.concept_names.index(concept)]
        return column.argsort(dim=-1, descending=True, stable=True)[:n].tolist()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("tables")
        return {"schema_version": data.pop("schema_version"), **data}

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        save_weights(directory / TABLES_FILE, self.tables)
        write_json(directory / RESULTS_FILE, self.to_json())
        return directory / RESULTS_FILE

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        directory = Path(directory)
        path = directory / RESULTS_FILE if directory.is_dir() or not directory.suffix else directory
        directory = path.parent
        if not path.is_file():
            raise GanscopeError(f"no {RESULTS_FILE} in {directory}; run `ganscope dissect --out {directory}` first")
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_a_number)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise GanscopeError(f"{path} is not valid JSON ({err}); re-run the dissection") from err
        if not isinstance(data, dict):
            raise GanscopeError(f"{path}: expected a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise GanscopeError(
                f"{path} has schema version {version!r}; this ganscope reads version {SCHEMA_VERSION}: "
                "re-run `ganscope dissect` with this version"
            )
        try:
            _check(data, Results, "")
            if not all({"name", "category"} <= set(concept) for concept in data["concepts"]):
                raise ValueError("every concept needs a name and a category")
            layers = {
                name: LayerResult(**{**layer, "units": [UnitResult(**u) for u in layer["units"]]})
                for name, layer in data.pop("layers").items()
            }
            results = cls(**{**data, "layers": layers, "upsampling": Upsampling(**data["upsampling"])})
            _check_consistency(results)
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise GanscopeError(f"{path} does not match the results schema: {err}") from err
        tables_path = directory / TABLES_FILE
        results.tables = load_weights(tables_path) if tables_path.is_file() else {}
        return results


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _check(value: Any, hint: Any, where: str) -> None:
    """Raise ValueError unless parsed JSON ``value`` has the type ``hint`` (dataclasses: their known fields)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"{where or 'the file'} must be an object")
        unknown = sorted(set(value) - {f.name for f in fields(hint)})
        if unknown:
            raise ValueError(f"{where or 'the file'} has unknown fields {json.dumps(unknown)}")
        hints = typing.get_type_hints(hint)
        for f in fields(hint):
            if f.name in value:
                _check(value[f.name], hints[f.name], f"{where}.{f.name}".lstrip("."))
        return
    if hint is Any:
        return
    if origin is list or origin is tuple:
        if not isinstance(value, list) or (origin is tuple and len(value) != len(args)):
            raise ValueError(f"{where} must be a list" + (f" of {len(args)}" if origin is tuple else ""))
        for i, item in enumerate(value):
            _check(item, args[0] if origin is list else args[i], f"{where}[{i}]")
    elif origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object")
        for key, item in value.items():
            _check(item, args[1], f"{where}[{json.dumps(key)}]")
    elif isinstance(value, bool) != (hint is bool) or not isinstance(value, (int, float) if hint is float else hint):
        raise ValueError(f"{where} must be of type {hint.__name__}, got {type(value).__name__}")


def _check_consistency(results: Results) -> None:
    """Sizes are 2-D and shapes 3-D, layers carry their own key as name, unit i sits at index i, and
    units only name the results' own concepts: the report and server rely on all of these."""
    sizes = {"image_size": results.image_size, "upsampling.size": results.upsampling.size}
    for what, size in sizes.items():
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"{what} must be [height, width] >= 1, got {size}")
    known = set(results.concept_names[1:])
    for name, layer in results.layers.items():
        if len(layer.shape) != 3 or min(layer.shape) < 1:
            raise ValueError(f"layer {name!r} shape must be [units, height, width] >= 1, got {layer.shape}")
        if len(layer.units) != layer.shape[0]:
            raise ValueError(f"layer {name!r} has shape {layer.shape} but {len(layer.units)} units")
        if layer.name != name:
            raise ValueError(f"layer {name!r} is named {layer.name!r} inside")
        for i, u in enumerate(layer.units):
            if u.unit != i:
                raise ValueError(f"layer {name!r} lists unit {u.unit} at position {i}")
            unknown = {u.label, *(c for c, _ in u.top_concepts)} - known
            if unknown:
                raise ValueError(f"unit {u.unit} of layer {name!r} names unknown concepts {sorted(unknown)}")
