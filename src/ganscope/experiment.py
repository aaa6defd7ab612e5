"""The one shape of an experiment's result: a validated pydantic model that saves and loads.

Every experiment is called ``f(cut, ..., *, samples, start=0, progress=False)`` (a ``Session``
first where more than one layer is involved) and returns a subclass of :class:`ExperimentResult`.
``save(directory)`` writes it atomically as JSON (``directory / FILE``) with its
``schema_version``; tensor fields, such as images, go beside it as ``NAME.safetensors``.
``load`` validates what it reads, so a file from another version, a corrupt one or a
hand-edited one gives one clear error naming the file. A file written before results
carried ``schema_version`` loads as version 1.

The table of experiments and their results is in docs/architecture.md#experiments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Self, get_args

import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from ganscope.errors import GanscopeError, location
from ganscope.io import load_weights, save_weights, write_json

SCHEMA_VERSION = 1


class Schema(BaseModel):
    """A strict record: unknown fields and NaN are refused when validating."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)


class ExperimentResult(Schema):
    """Base of every experiment's result. ``FILE`` is its name when saved into a directory."""

    FILE: ClassVar[str] = "result.json"
    WHAT: ClassVar[str] = ""  # how messages name it (default: the class name)
    ARGUMENT: ClassVar[str] = "path"  # the argument a load error names
    MISSING: ClassVar[str] = ""  # added to "no ... at PATH": how to make one
    schema_version: int = SCHEMA_VERSION

    def save(self, directory: str | Path) -> Path:
        """Write the result to ``directory / FILE``, atomically; returns the JSON's path."""
        path = Path(directory) / self.FILE
        names = self._tensor_fields()
        tensors = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if tensors:
            save_weights(path.with_suffix(".safetensors"), tensors)
        return write_json(path, self.model_dump(mode="json", exclude=set(names)))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read and validate a saved result: a file, or a directory holding ``FILE``."""
        path = Path(path)
        path = path / cls.FILE if path.is_dir() else path
        what, argument = cls.WHAT or cls.__name__, cls.ARGUMENT
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GanscopeError(f"no {what} at {path}{cls.MISSING}", argument=argument) from None
        except (OSError, ValueError) as err:
            raise GanscopeError(f"cannot read {what} {path}: {err}", argument=argument) from None
        if not isinstance(data, dict):
            raise GanscopeError(f"{path} is not a {what} (a JSON object)", argument=argument)
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise GanscopeError(f"{path} has schema version {version}; this ganscope reads version "
                                f"{SCHEMA_VERSION}", argument=argument)
        stored = path.with_suffix(".safetensors")
        if cls._tensor_fields() and stored.is_file():
            data.update(load_weights(stored))
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            raise GanscopeError(f"invalid {what} {path}: {location(first['loc'])}: {first['msg']}",
                                argument=argument) from None

    @classmethod
    def _tensor_fields(cls) -> list[str]:
        """The fields that hold a tensor (or an optional one): they are saved beside the JSON."""
        return [name for name, field in cls.model_fields.items()
                if field.annotation is torch.Tensor or torch.Tensor in get_args(field.annotation)]
