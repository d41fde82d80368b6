"""Render the IAM policy documents of the Terraform tree into (action, resource) pairs, offline.

python-hcl2 gives expressions back as "${...}" strings. This module evaluates the small subset of
HCL the policy documents use (references to variables, locals and remote-state outputs, string
templates, ``[for x in list : "template"]``, ``keys()``, ``trimsuffix()``) into canonical,
account-free resource names:

* a bucket of the data stack (``bucket_arns["lake"]`` or ``arn:...:s3:::${bucket_names["lake"]}``)
  becomes ``arn:aws:s3:::lake``;
* any other remote-state output becomes ``<stack.output>`` (``<data.msk_topic_arn_prefix>``...);
* the account, region and partition become ``<account>``, ``<region>`` and ``aws``.

Anything it cannot evaluate raises :class:`Unrenderable`, so a policy nobody can read fails the
tests instead of passing them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conftest import Config

Pair = tuple[str, str]


class Unrenderable(ValueError):
    """An expression outside the supported subset."""


_DATA_SOURCES = {
    "data.aws_partition.current.partition": "aws",
    "data.aws_region.current.name": "<region>",
    "data.aws_caller_identity.current.account_id": "<account>",
}
_REMOTE = re.compile(r"^data\.terraform_remote_state\.(\w+)\.outputs$")


# Inside the data stack its modules' outputs are what it later publishes as outputs.
_ALIASES = {"module.lake": "data", "module.data_key.key_arn": "data.kms_key_arn"}


@dataclass(frozen=True)
class RemoteState:
    """The outputs of another stack (or of a module of the data stack), as canonical symbols."""

    stack: str

    def get(self, name: str) -> Any:
        stack = _ALIASES.get(self.stack, self.stack)
        if f"{self.stack}.{name}" in _ALIASES:
            return _Keyed(
                lambda k: f"<{_ALIASES[self.stack + '.' + name]}[{k}]>",
                f"<{_ALIASES[self.stack + '.' + name]}>",
            )
        if stack == "data" and name == "bucket_arns":
            return _Keyed(lambda k: f"arn:aws:s3:::{k}")
        if stack == "data" and name == "bucket_names":
            return _Keyed(lambda k: k)
        return _Keyed(lambda k: f"<{stack}.{name}[{k}]>", f"<{stack}.{name}>")


@dataclass(frozen=True)
class _Keyed:
    by_key: Callable[[str], str]
    whole: str | None = None


def _strip(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}") and _outer(value):
        return value[2:-1]
    return None


def _outer(text: str) -> bool:
    """Is the whole string one ``${...}`` (not ``${a}-${b}``)?"""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return True


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets, braces, parentheses and strings."""
    out, depth, quoted, cur, i = [], 0, False, "", 0
    while i < len(text):
        ch = text[i]
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth -= 1
        if not quoted and depth == 0 and text.startswith(sep, i):
            out.append(cur)
            cur, i = "", i + len(sep)
            continue
        cur += ch
        i += 1
    out.append(cur)
    return out


_FOR = re.compile(r"^\[for (\w+)(?:\s*,\s*(\w+))? in (.+?) : (.+?)(?: if (.+))?\]$", re.S)
_REF = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\"[^\"]*\"\]|\[\d+\])*$")


@dataclass
class Scope:
    """Names an expression can see: ``var``, ``local`` and loop variables."""

    config: Config
    variables: Mapping[str, Any]
    overrides: Mapping[str, Any] = field(default_factory=dict)
    loop: dict[str, Any] = field(default_factory=dict)
    _locals: dict[str, Any] = field(default_factory=dict)

    def child(self, **names: Any) -> Scope:
        return Scope(self.config, self.variables, self.overrides, {**self.loop, **names}, self._locals)

    def local(self, name: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        if name not in self._locals:
            raw = self.config.locals().get(name)
            if raw is None:
                raise Unrenderable(f"{self.config.name}: no local.{name}")
            self._locals[name] = value(raw, self)
        return self._locals[name]


def value(raw: Any, scope: Scope) -> Any:
    """Evaluate a python-hcl2 value (string with "${...}", list, dict, literal)."""
    if isinstance(raw, list):
        return [value(v, scope) for v in raw]
    if isinstance(raw, dict):
        return {k: value(v, scope) for k, v in raw.items()}
    if not isinstance(raw, str):
        return raw
    inner = _strip(raw)
    if inner is not None:
        return expression(inner, scope)
    return template(raw, scope)


def template(text: str, scope: Scope) -> str:
    out, i = "", 0
    while i < len(text):
        if text.startswith("${", i):
            depth, j = 0, i + 1
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            part = expression(text[i + 2 : j], scope)
            if not isinstance(part, str):
                raise Unrenderable(f"non-string {part!r} inside the template {text!r}")
            out += part
            i = j + 1
        else:
            out += text[i]
            i += 1
    return out


def expression(expr: str, scope: Scope) -> Any:
    expr = expr.strip()
    if expr.startswith('"') and expr.endswith('"'):
        return template(expr[1:-1], scope)
    if re.fullmatch(r"-?\d+", expr):
        return int(expr)
    m = _FOR.match(expr)
    if m:
        name, second, coll, body, cond = m.groups()
        items = expression(coll, scope)
        pairs = list(items.items()) if isinstance(items, dict) else list(enumerate(items))
        out = []
        for k, v in pairs:
            inner = scope.child(**({name: k, second: v} if second else {name: v}))
            if cond and not _condition(cond, inner):
                continue
            out.append(expression(body, inner))
        return out
    m = re.fullmatch(r"(\w+)\((.*)\)", expr, re.S)
    if m:
        fn, args = m.group(1), [expression(a, scope) for a in _split_top(m.group(2), ",")]
        if fn == "keys":
            return sorted(args[0])
        if fn == "trimsuffix":
            return args[0][: -len(args[1])] if args[0].endswith(args[1]) else args[0]
        if fn == "concat":
            return [x for a in args for x in a]
        raise Unrenderable(f"function {fn}() is not supported: {expr}")
    if _REF.match(expr):
        return reference(expr, scope)
    raise Unrenderable(f"cannot evaluate {expr!r}")


def _condition(cond: str, scope: Scope) -> bool:
    m = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", cond.strip())
    if not m:
        raise Unrenderable(f"condition {cond!r} is not supported")
    left, op, right = expression(m.group(1), scope), m.group(2), expression(m.group(3), scope)
    return (left == right) if op == "==" else (left != right)


def reference(ref: str, scope: Scope) -> Any:
    if ref in _DATA_SOURCES:
        return _DATA_SOURCES[ref]
    m = _REMOTE.match(ref)
    if m:
        return RemoteState(m.group(1))
    parts = re.findall(r"[A-Za-z_][\w-]*|\[\"[^\"]*\"\]|\[\d+\]", ref)
    head, rest = parts[0], parts[1:]
    if head == "module":
        current: Any = RemoteState(f"module.{rest.pop(0)}")
    elif head in scope.loop:
        current = scope.loop[head]
    elif head == "var":
        name = rest.pop(0)
        if name not in scope.variables:
            raise Unrenderable(f"{scope.config.name}: no value for var.{name}")
        current = scope.variables[name]
    elif head == "local":
        current = scope.local(rest.pop(0))
    else:
        raise Unrenderable(f"reference {ref!r} is not supported")
    for part in rest:
        key = part[2:-2] if part.startswith('["') else part.strip("[]") if part.startswith("[") else part
        if isinstance(current, RemoteState):
            current = current.get(key)
        elif isinstance(current, _Keyed):
            current = current.by_key(key)
        elif isinstance(current, dict):
            current = current[key]
        elif isinstance(current, list) and key.isdigit():
            current = current[int(key)]
        else:
            raise Unrenderable(f"cannot index {current!r} with {key!r} in {ref}")
    if isinstance(current, _Keyed):
        if current.whole is None:
            raise Unrenderable(f"{ref} needs a key")
        return current.whole
    return current


# --- variables of a configuration ------------------------------------------------------------------
def defaults(config: Config) -> dict[str, Any]:
    return {name: body.get("default") for name, body in config.variables().items() if "default" in body}


class _BoundVariables(Mapping[str, Any]):
    """A module's variables as one call binds them, evaluated only when a policy reads them."""

    def __init__(self, module: Config, caller: Scope, call: Mapping[str, Any]) -> None:
        self.module, self.caller, self.call = module, caller, call
        self.cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.cache:
            if name in self.call:
                self.cache[name] = value(self.call[name], self.caller)
            elif "default" in self.module.variables().get(name, {}):
                self.cache[name] = self.module.variables()[name]["default"]
            else:
                raise KeyError(name)
        return self.cache[name]

    def __contains__(self, name: object) -> bool:
        return (
            isinstance(name, str)
            and name in self.module.variables()
            and (name in self.call or "default" in self.module.variables()[name])
        )

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(n for n in self.module.variables() if n in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def module_variables(module: Config, caller: Scope, call: Mapping[str, Any]) -> Mapping[str, Any]:
    """A module's variables as one call binds them: the call's arguments, else the defaults."""
    return _BoundVariables(module, caller, call)


# --- policy documents ----------------------------------------------------------------------------
def policy_document(config: Config, name: str) -> dict[str, Any]:
    for dtype, dname, body in config.data_sources():
        if dtype == "aws_iam_policy_document" and dname == name:
            return body
    raise KeyError(f"{config.name}: no data.aws_iam_policy_document.{name}")


def _statements(doc: dict[str, Any], scope: Scope) -> list[dict[str, Any]]:
    statements = list(doc.get("statement", []))
    for dyn in doc.get("dynamic", []):
        block = dyn.get("statement")
        if block is None:
            continue
        m = re.fullmatch(r"\$\{length\((.+)\) > 0 \? \[1\] : \[\]\}", str(block["for_each"]))
        if not m:
            raise Unrenderable(f"dynamic statement for_each {block['for_each']!r} is not supported")
        if expression(m.group(1), scope):
            statements.extend(block["content"])
    return statements


def render(doc: dict[str, Any], scope: Scope) -> set[Pair]:
    """(action, resource) pairs an Allow policy document grants."""
    pairs: set[Pair] = set()
    for st in _statements(doc, scope):
        if str(st.get("effect", "Allow")) != "Allow":
            continue
        actions = value(st.get("actions", []), scope)
        resources = value(st.get("resources", []), scope)
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        for action in actions:
            for resource in resources:
                pairs.add((str(action), str(resource)))
    return pairs
