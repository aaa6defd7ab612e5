"""Dissection results: dataclasses, a versioned JSON schema, atomic save and checked load.

A results directory holds ``results.json`` (what other programs read) and
``tables.safetensors`` (full per-layer IoU tables and top-k activation maps, which
the report, ``ace --top`` and the server use).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
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
    upsampling: dict[str, Any]
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
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
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
            layers = {
                name: LayerResult(**{**layer, "units": [UnitResult(**u) for u in layer["units"]]})
                for name, layer in data.pop("layers").items()
            }
            results = cls(**{**data, "layers": layers})
        except (KeyError, TypeError, AttributeError) as err:
            raise GanscopeError(f"{path} does not match the results schema: {err}") from err
        tables_path = directory / TABLES_FILE
        results.tables = load_weights(tables_path) if tables_path.is_file() else {}
        return results
