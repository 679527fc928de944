"""Checks as small registered plug-ins.

A check is a function ``check(ctx, params) -> Iterable[Finding]`` registered under a
unique name with the codes it can emit and its default thresholds. Users override
thresholds through one mapping ``{check_name: {param: value}}`` merged over the defaults.

Example:
    >>> reg = Registry("demo")
    >>> @reg.register("always", codes=[Code.DATA_TOO_FEW], min_per_class=5)
    ... def always(ctx, params):
    ...     return []
    >>> reg.names()
    ['always']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from convergent.findings import Code, Finding

CheckFn = Callable[[Any, dict[str, Any]], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    codes: tuple[Code, ...]
    fn: CheckFn
    defaults: dict[str, Any] = field(default_factory=dict)


class Registry:
    """A named set of checks; registering a name twice is an error."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._checks: dict[str, Check] = {}

    def register(self, name: str, codes: Iterable[Code], **defaults: Any
                 ) -> Callable[[CheckFn], CheckFn]:
        def decorator(fn: CheckFn) -> CheckFn:
            if name in self._checks:
                raise ValueError(f"check {name!r} is already registered in {self.family!r}")
            self._checks[name] = Check(name, tuple(Code(c) for c in codes), fn, dict(defaults))
            return fn

        return decorator

    def names(self) -> list[str]:
        return list(self._checks)

    def codes(self) -> set[Code]:
        return {c for chk in self._checks.values() for c in chk.codes}

    def params(self, name: str, overrides: Mapping[str, Mapping[str, Any]] | None = None
               ) -> dict[str, Any]:
        """The defaults of check ``name`` with the user's overrides merged over them."""
        chk = self._checks[name]
        user = dict((overrides or {}).get(name, {}))
        unknown = set(user) - set(chk.defaults)
        if unknown:
            raise ValueError(f"check {name!r} has no parameter(s) {sorted(unknown)}; "
                             f"valid: {sorted(chk.defaults)}")
        return {**chk.defaults, **user}

    def run(self, ctx: Any, overrides: Mapping[str, Mapping[str, Any]] | None = None,
            only: Iterable[str] | None = None) -> list[Finding]:
        """Run every check (or those named in ``only``) over ``ctx``; return all findings."""
        if overrides:
            unknown = set(overrides) - set(self._checks)
            if unknown:
                raise ValueError(f"no check(s) named {sorted(unknown)} in {self.family!r}; "
                                 f"valid: {sorted(self._checks)}")
        selected = set(only) if only is not None else None
        out: list[Finding] = []
        for name, chk in self._checks.items():
            if selected is not None and name not in selected:
                continue
            out.extend(chk.fn(ctx, self.params(name, overrides)))
        return out
