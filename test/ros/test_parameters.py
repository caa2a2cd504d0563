"""One source of truth per setting: the node's tracker parameters are TrackerConfig's fields
(names, types, defaults, choices, ranges), and the README's parameter table and the shipped
parameter files agree with the code. Pure Python: no ROS needed.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest
import yaml

from fartrack_ros.config import TrackerConfig
from fartrack_ros.ros.parameters import (LIFECYCLE_PARAMETERS, NODE_PARAMETERS, TRACKER_PARAMETERS,
                                         check_parameter, tracker_config_from_parameters)

ROOT = Path(__file__).resolve().parents[2]
# What each shipped parameter file sets differently from the code's defaults, on purpose. Any
# other value must equal the default, so a default changed in the code cannot leave a file behind.
DELIBERATE = {
    "cpu_drone.yaml": {"threads": 2},
    "gpu.yaml": {"variant": "tiny", "device": "cuda"},
}


def readme_parameter_rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Parameters"):]
    section = section[:section.index("\n#")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`\w+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def shown(value) -> str:
    """A default as the README shows it (YAML spelling for booleans)."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value!r}`"


def allowed(spec) -> str:
    if spec.name == "backend":
        return "auto or a registered backend"
    if spec.choices:
        return " / ".join(spec.choices)
    if spec.int_range:
        return f"{spec.int_range[0]}..{spec.int_range[1]}"
    if spec.float_range:
        return f"[{spec.float_range[0]}, {spec.float_range[1]}]"
    return ""


def changeable(spec) -> str:
    if spec.read_only:
        return "start-up only"
    return "runtime (reloads the model)" if spec.rebuilds_tracker else "runtime"


def test_every_tracker_field_is_a_node_parameter_with_its_default_and_limits():
    hints = typing.get_type_hints(TrackerConfig)
    for f in dataclasses.fields(TrackerConfig):
        spec = NODE_PARAMETERS[f.name]
        assert spec is TRACKER_PARAMETERS[f.name]
        expected = f.metadata["unset"] if f.default is None else f.default
        assert spec.default == expected and type(spec.default) is type(expected), f.name
        assert spec.description.startswith(f.metadata["description"]), f.name
        assert spec.choices == f.metadata["choices"], f.name
        bounds = spec.int_range or spec.float_range
        if f.metadata["bounds"] is None:
            assert bounds is None, f.name
        else:
            assert bounds[1] == f.metadata["bounds"][1], f.name
        assert hints[f.name] in (type(expected), typing.Optional[type(expected)]), f.name
    assert tracker_config_from_parameters({}) == TrackerConfig()


def test_the_tracker_config_and_the_node_refuse_the_same_values():
    for spec in TRACKER_PARAMETERS.values():
        for bad in ([spec.int_range[0] - 1, spec.int_range[1] + 1] if spec.int_range else []) + \
                   ([spec.float_range[0] - 0.5, spec.float_range[1] + 0.5] if spec.float_range else []) + \
                   (["nonsense"] if spec.choices else []):
            assert check_parameter(spec.name, bad), (spec.name, bad)
            with pytest.raises(ValueError, match=spec.name if spec.name != "variant" else "variant"):
                TrackerConfig(**{spec.name: bad})


def test_the_readme_parameter_table_matches_the_code():
    rows = readme_parameter_rows()
    specs = {**NODE_PARAMETERS, **LIFECYCLE_PARAMETERS}
    assert list(rows) == list(specs), "README rows (order included) vs the code's parameters"
    for name, (default, allowed_text, changeable_text, meaning) in rows.items():
        spec = specs[name]
        assert default == shown(spec.default), f"README default of {name}: {default}"
        assert allowed_text == allowed(spec), f"README 'allowed' of {name}: {allowed_text!r}"
        assert changeable_text == changeable(spec), f"README 'changeable' of {name}"
        assert meaning, name


@pytest.mark.parametrize("name", sorted(DELIBERATE))
def test_the_parameter_files_differ_from_the_defaults_only_on_purpose(name):
    data = yaml.safe_load((ROOT / "config" / name).read_text())
    (values,) = (body["ros__parameters"] for body in data.values())
    assert set(values) == set(NODE_PARAMETERS)
    differing = {key: value for key, value in values.items() if value != NODE_PARAMETERS[key].default}
    assert differing == DELIBERATE[name], f"{name}: values other than the defaults"
