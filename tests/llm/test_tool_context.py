"""function_tool: schemas from type hints and docstrings, validation, JSON repair."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from voxline import RunContext, function_tool
from voxline.llm import ToolArgumentsError, ToolFlag, Toolset, flatten_tools


class Unit(str, enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    street: str
    city: str


@function_tool
async def get_weather(
    ctx: RunContext[Any],
    location: str,
    unit: Unit = Unit.CELSIUS,
    days: int | None = None,
    mode: Literal["brief", "full"] = "brief",
) -> str:
    """Get the weather forecast.

    Args:
        location: The city, e.g. "Tokyo".
        unit: Temperature unit.
        days: How many days
            ahead to forecast.
    """
    return location


@function_tool(name="ship", flags=ToolFlag.IGNORE_ON_ENTER)
async def ship_parcel(address: Address) -> str:
    """Ship a parcel."""
    return address.city


def test_schema_from_hints_and_docstring() -> None:
    info = get_weather.info
    assert info.name == "get_weather" and info.description == "Get the weather forecast."
    props = info.parameters["properties"]
    assert set(props) == {"location", "unit", "days", "mode"}  # the RunContext is hidden
    assert props["location"]["description"] == 'The city, e.g. "Tokyo".'
    assert props["days"]["description"] == "How many days ahead to forecast."
    assert info.parameters["required"] == ["location"]
    assert props["mode"]["enum"] == ["brief", "full"]
    assert get_weather.context_param == "ctx"


def test_arguments_are_validated_with_clear_errors() -> None:
    assert get_weather.parse_arguments('{"location": "Oslo", "unit": "fahrenheit"}') == {
        "location": "Oslo",
        "unit": Unit.FAHRENHEIT,
        "days": None,
        "mode": "brief",
    }
    with pytest.raises(ToolArgumentsError, match=r"get_weather.*location"):
        get_weather.parse_arguments('{"unit": "celsius"}')
    with pytest.raises(ToolArgumentsError, match="unit"):
        get_weather.parse_arguments('{"location": "Oslo", "unit": "kelvin"}')


@pytest.mark.parametrize(
    "raw",
    [
        '{"location": "Oslo",}',
        '```json\n{"location": "Oslo"}\n```',
        "{'location': 'Oslo'}",
        '{"location": "Oslo"',
    ],
)
def test_slightly_malformed_json_is_repaired(raw: str) -> None:
    assert get_weather.parse_arguments(raw)["location"] == "Oslo"


def test_hopeless_json_is_an_error_naming_the_tool() -> None:
    with pytest.raises(ToolArgumentsError, match="'get_weather' are not valid JSON"):
        get_weather.parse_arguments("location=Oslo")
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        get_weather.parse_arguments("[1, 2]")


def test_nested_models_and_flags() -> None:
    assert ship_parcel.name == "ship" and ship_parcel.info.flags & ToolFlag.IGNORE_ON_ENTER
    args = ship_parcel.parse_arguments('{"address": {"street": "1 Main", "city": "Lyon"}}')
    assert args["address"].city == "Lyon"


def test_toolsets_flatten_and_reject_duplicates() -> None:
    assert [t.name for t in flatten_tools([Toolset(id="x", tools=[get_weather]), ship_parcel])] == [
        "get_weather",
        "ship",
    ]
    with pytest.raises(ValueError, match="duplicate tool name"):
        flatten_tools([get_weather, Toolset(id="y", tools=[get_weather])])
