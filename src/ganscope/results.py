"""Dissection results: dataclasses, a versioned JSON schema, atomic save and checked load.

A results directory holds ``results.json`` (what other programs read) and
``tables.safetensors`` (full per-layer IoU tables and top-k activation maps, which
the report, ``ace --top`` and the server use).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from ganscope.errors import GanscopeError, location
from ganscope.io import load_weights, save_weights, write_json

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
TABLES_FILE = "tables.safetensors"
SAMPLES_DIR = "samples"  # each unit's top samples, samples/{index}.png


class _Schema(BaseModel):
    """Unknown fields are errors and numbers must be finite: a results file is read exactly as written."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class UnitResult(_Schema):
    unit: int
    threshold: float
    label: str
    category: str
    iou: float
    top_concepts: list[tuple[str, float]]
    top_samples: list[int]
    insertion_value: float = Field(description="the unit's 99.5th-percentile upsampled activation")
    mean: float
    std: float

    def __repr__(self) -> str:
        return f"UnitResult({self.unit}: {self.label!r} ({self.category}), IoU {self.iou:.3f})"


class LayerResult(_Schema):
    name: str
    shape: list[int] = Field(description="units, height, width of the layer's output")
    units: list[UnitResult]
    interpretable: dict[str, int] = Field(description="interpretable units per concept category")
    threshold_bound: float = Field(description="the largest bin width: |threshold - exact quantile| <= this")
    tail_warnings: list[int] = Field(default_factory=list,
                                     description="units whose threshold fell outside their tallied range")

    def unit(self, index: int) -> UnitResult:
        return self.units[index]

    def __repr__(self) -> str:
        good = sum(self.interpretable.values())
        return f"LayerResult({self.name!r}, {self.shape[0]} units, {good} interpretable)"

    @model_validator(mode="after")
    def _consistent(self) -> LayerResult:
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise ValueError(f"layer {self.name!r} shape must be [units, height, width] >= 1, got {self.shape}")
        if len(self.units) != self.shape[0]:
            raise ValueError(f"layer {self.name!r} has shape {self.shape} but {len(self.units)} units")
        for i, u in enumerate(self.units):
            if u.unit != i:
                raise ValueError(f"layer {self.name!r} lists unit {u.unit} at position {i}")
        return self


class Upsampling(_Schema):
    """How activation maps were resized to the segmentation size before thresholding."""

    mode: str
    align_corners: bool
    size: list[int]


class Concept(_Schema):
    name: str
    category: str


class Results(_Schema):
    """A dissection's results: what results.json holds, plus the tables of tables.safetensors."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    schema_version: int = SCHEMA_VERSION
    model: str
    segmenter: str
    samples: int
    seed: int = Field(ge=0)
    threshold_rule: str
    quantile: float
    iou_cutoff: float
    concepts: list[Concept]
    layers: dict[str, LayerResult]
    upsampling: Upsampling
    image_size: list[int]
    elapsed_seconds: float = 0.0
    tables: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)
    _directory: Path | None = PrivateAttr(default=None)

    @property
    def directory(self) -> Path | None:
        """Where these results were saved or loaded from (with the sample images), if anywhere."""
        return self._directory

    def __repr__(self) -> str:
        layers = ", ".join(f"{name} ({len(r.units)} units, {sum(r.interpretable.values())} interpretable)"
                           for name, r in self.layers.items())
        return f"Results(model={self.model!r}, samples={self.samples}, layers: {layers})"

    @model_validator(mode="after")
    def _consistent(self) -> Results:
        """Sizes are 2-D, layers carry their own key as name, and units only name the results' own
        concepts: the report and server rely on all of these."""
        for what, size in {"image_size": self.image_size, "upsampling.size": self.upsampling.size}.items():
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"{what} must be [height, width] >= 1, got {size}")
        known = set(self.concept_names[1:])
        for name, layer in self.layers.items():
            if layer.name != name:
                raise ValueError(f"layer {name!r} is named {layer.name!r} inside")
            for u in layer.units:
                unknown = {u.label, *(c for c, _ in u.top_concepts)} - known
                if unknown:
                    raise ValueError(f"unit {u.unit} of layer {name!r} names unknown concepts {sorted(unknown)}")
        return self

    def layer(self, name: str) -> LayerResult:
        """The result of a dissected layer; other names list the dissected ones."""
        if name not in self.layers:
            raise GanscopeError(f"layer {name!r} was not dissected; layers are: {', '.join(self.layers)}",
                                argument="layer")
        return self.layers[name]

    @property
    def concept_names(self) -> list[str]:
        return [c.name for c in self.concepts]

    def iou_table(self, layer: str) -> torch.Tensor:
        """IoU (units, concepts) of a layer, concept 0 (unlabelled) included as zeros."""
        return self.tables[f"{layer}/iou"]

    def top_units(self, layer: str, concept: str, n: int) -> list[int]:
        """The n units of ``layer`` with the highest IoU for ``concept``."""
        if concept not in self.concept_names[1:]:
            raise GanscopeError(f"unknown concept {concept!r}; concepts are: {', '.join(self.concept_names[1:])}")
        self.layer(layer)
        column = self.iou_table(layer)[:, self.concept_names.index(concept)]
        return column.argsort(dim=-1, descending=True, stable=True)[:n].tolist()

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        save_weights(directory / TABLES_FILE, self.tables)
        write_json(directory / RESULTS_FILE, self.model_dump(mode="json"))
        self._directory = directory
        return directory / RESULTS_FILE

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        directory = Path(directory)
        path = directory / RESULTS_FILE if directory.is_dir() or not directory.suffix else directory
        directory = path.parent
        if not path.is_file():
            raise GanscopeError(f"no {RESULTS_FILE} in {directory}; run `ganscope dissect --out {directory}` first")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text, parse_constant=_not_a_number)
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
            results = cls.model_validate_json(text)
        except ValidationError as err:
            first = err.errors()[0]
            where = location(first["loc"])
            raise GanscopeError(f"{path} does not match the results schema: {where + ': ' if where else ''}"
                                f"{first['msg']}") from None
        tables_path = directory / TABLES_FILE
        if not tables_path.is_file():
            raise GanscopeError(f"no {TABLES_FILE} in {directory} (the IoU tables and top samples); re-run "
                                f"`ganscope dissect --out {directory}`")
        results.tables = load_weights(tables_path)
        check_tables(results, tables_path)
        results._directory = directory
        return results


def check_tables(results: Results, path: Path) -> None:
    """Every table a command or the server reads is there, with its dtype and shape, and finite where it must be."""
    for name, layer in results.layers.items():
        tables = {key: results.tables.get(f"{name}/{key}") for key in ("iou", "topk_indices", "topk_scores",
                                                                       "topk_maps")}
        k = tables["topk_indices"].shape[-1] if tables["topk_indices"] is not None else 0
        units = layer.shape[0]
        expect = {"iou": (torch.float32, (units, len(results.concepts))), "topk_indices": (torch.int64, (units, k)),
                  "topk_scores": (torch.float32, (units, k)), "topk_maps": (torch.float16, (units, k, None, None))}
        for key, (dtype, shape) in expect.items():
            table = tables[key]
            if table is None:
                raise GanscopeError(f"{path}: table {name}/{key} is missing; re-run the dissection")
            fits = table.dim() == len(shape) and all(n is None or n == m for n, m in zip(shape, table.shape))
            if table.dtype != dtype or not fits:
                wanted = [n if n is not None else "h" for n in shape]
                raise GanscopeError(f"{path}: table {name}/{key} is {_dtype(table.dtype)} {list(table.shape)}, "
                                    f"expected {_dtype(dtype)} {wanted}; re-run the dissection")
        iou, indices = tables["iou"], tables["topk_indices"]
        if not torch.isfinite(iou).all() or iou.min() < 0 or iou.max() > 1:
            raise GanscopeError(f"{path}: table {name}/iou holds values outside [0, 1] or NaN; re-run the dissection")
        if indices.numel() and (indices.min() < 0 or indices.max() >= results.samples):
            raise GanscopeError(f"{path}: table {name}/topk_indices names samples outside 0..{results.samples - 1}")
        unreadable = {"topk_scores": tables["topk_scores"].isnan(), "topk_maps": ~tables["topk_maps"].isfinite()}
        for key, bad in unreadable.items():
            if bad.any():
                raise GanscopeError(f"{path}: table {name}/{key} holds NaN or infinities; re-run the dissection")


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")
