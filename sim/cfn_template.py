"""Evaluate ``infra/template.json``'s intrinsic functions the way CloudFormation does.

moto's CloudFormation creates most of the stack itself; this resolver is for what it skips
(``sim/moto_stack.py`` creates those resources from their own properties) and for the outputs
that vanish with them. References resolve against the created stack: ``Ref`` to a resource is
its physical id, ``Fn::GetAtt`` asks ``attribute(logical_id, name)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

NO_VALUE = object()  # ``{"Ref": "AWS::NoValue"}``: the property is left out
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateReferenceError(KeyError):
    """A ``Ref``/``Fn::GetAtt``/``${}`` names something the stack does not have."""


class Resolver:
    """Resolve values of one template for one stack.

    Args:
        template: the parsed template.
        parameters: every parameter's value (defaults included) and the pseudo parameters.
        physical_id: logical id -> physical id, for ``Ref``.
        attribute: ``(logical_id, attribute)`` -> value, for ``Fn::GetAtt``.
    """

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, str],
        physical_id: Callable[[str], str],
        attribute: Callable[[str, str], str],
    ) -> None:
        self.template = template
        self.parameters = parameters
        self._physical_id = physical_id
        self._attribute = attribute

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def applies(self, declaration: dict[str, Any]) -> bool:
        """False for a resource or output whose ``Condition`` is false."""
        name = declaration.get("Condition")
        return name is None or self.condition(name)

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.get("Resources", {}):
            return self._physical_id(name)
        raise TemplateReferenceError(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        """The intrinsic functions and condition functions, by name."""
        return {
            "Ref": lambda arg: NO_VALUE if arg == "AWS::NoValue" else self.ref(arg),
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: str(self.resolve(arg[0])) == str(self.resolve(arg[1])),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(v) for v in arg),
            "Fn::Or": lambda arg: any(self.resolve(v) for v in arg),
            "Condition": self.condition,
            "Fn::Join": lambda arg: arg[0].join(str(v) for v in self.resolve(arg[1])),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
        }

    def _get_att(self, arg: str | list[str]) -> str:
        logical_id, name = arg if isinstance(arg, list) else arg.split(".", 1)
        return self._attribute(logical_id, name)

    def _sub(self, arg: str | list[Any]) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                logical_id, attribute = name.split(".", 1)
                return str(self._attribute(logical_id, attribute))
            return str(self.ref(name))

        return _SUB.sub(one, text)


def references(value: Any) -> set[str]:
    """Every logical id or parameter a value refers to (``Ref``, ``Fn::GetAtt``, ``${...}``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {name.split(".")[0] for name in _SUB.findall(text)}
                if isinstance(inner, list):
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """Every parameter's value: the given one, else its default (a missing required one is an error)."""
    values: dict[str, str] = {}
    for name, declaration in template.get("Parameters", {}).items():
        if name in given:
            values[name] = str(given[name])
        elif "Default" in declaration:
            values[name] = str(declaration["Default"])
        else:
            raise TemplateReferenceError(f"parameter {name} has no value and no default")
    return values
