"""The deterministic fake model behind :class:`~blockrun_core.testing.LocalGateway`.

Given the same request it always gives the same answer:

- after tool results, a sentence that quotes them;
- tool calls when tools are offered and the prompt names them (or ``tool_choice`` says so),
  with arguments built from each tool's JSON schema;
- JSON matching the schema when ``response_format`` asks for it; in JSON mode, an object
  with the keys the prompt quotes ("with 'setup' and 'punchline' keys"), else ``answer``;
- the number for simple arithmetic ("what is 2+2", "12 * 7");
- otherwise ``"Echo: <last user message>"``.

Responses queued with :meth:`FakeModel.script` take precedence, in order.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FakeModel",
    "ModelOutput",
    "ScriptedResponse",
    "ToolCall",
    "count_tokens",
    "message_text",
]


def count_tokens(text: str) -> int:
    """The fake tokenizer: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


def message_text(content: object) -> str:
    """The text of a message's ``content``: a string, or the ``text`` parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


@dataclass(frozen=True)
class ToolCall:
    """One complete tool call; ``arguments`` is JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ModelOutput:
    """What the model produced for one request, before it is put on the wire."""

    content: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    reasoning: str | None = None
    reasoning_tokens: int = 0
    tool_calls: tuple[ToolCall, ...] = ()
    raw: Mapping[str, Any] | None = None  # a scripted completion body, served verbatim


@dataclass(frozen=True)
class ScriptedResponse:
    """A canned answer queued by :meth:`FakeModel.script`."""

    content: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    reasoning: str | None = None
    finish_reason: str | None = None
    raw: Mapping[str, Any] | None = None


@dataclass
class _Request:
    """The parts of a chat request the fake model looks at."""

    body: Mapping[str, Any]
    messages: list[Mapping[str, Any]] = field(init=False)
    user_text: str = field(init=False)

    def __post_init__(self) -> None:
        raw = self.body.get("messages")
        self.messages = [m for m in raw if isinstance(m, Mapping)] if isinstance(raw, list) else []
        self.user_text = next(
            (
                message_text(m.get("content"))
                for m in reversed(self.messages)
                if m.get("role") == "user"
            ),
            "",
        )


class FakeModel:
    """The deterministic, scriptable model. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str | None, deque[ScriptedResponse]] = {}

    def script(
        self,
        model: str | None,
        response: str | Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        reasoning: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Queue one canned answer for ``model`` (``None``: any model).

        ``response`` is the answer text, a list of tool calls (``{"name", "arguments"}``
        or OpenAI's ``{"id", "type", "function": {...}}``), or a whole ``chat.completion``
        body served verbatim.
        """
        if isinstance(response, str):
            item = ScriptedResponse(
                content=response, reasoning=reasoning, finish_reason=finish_reason
            )
        elif isinstance(response, Mapping):
            item = ScriptedResponse(raw=dict(response))
        else:
            calls = tuple(dict(call) for call in response)
            item = ScriptedResponse(
                content="", tool_calls=calls, reasoning=reasoning, finish_reason=finish_reason
            )
        with self._lock:
            self._scripts.setdefault(model, deque()).append(item)

    def clear(self) -> None:
        """Drop every queued answer."""
        with self._lock:
            self._scripts.clear()

    def pending(self, model: str | None = None) -> int:
        """How many scripted answers are still queued for ``model`` (``None``: any model)."""
        with self._lock:
            return len(self._scripts.get(model, ()))

    def _next_script(self, model: str) -> ScriptedResponse | None:
        with self._lock:
            for key in (model, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return None

    def respond(
        self,
        model: str,
        body: Mapping[str, Any],
        *,
        prompt_tokens: int,
        max_tokens: int,
        reasoning: bool,
    ) -> ModelOutput:
        """Answer one validated chat request.

        ``prompt_tokens`` is the gateway's input estimate, ``max_tokens`` the effective
        output ceiling and ``reasoning`` whether the model emits ``reasoning_content``.
        """
        request = _Request(body)
        scripted = self._next_script(model)
        if scripted is not None and scripted.raw is not None:
            return _from_raw(scripted.raw, prompt_tokens)
        if scripted is not None:
            content = scripted.content or ""
            calls = tuple(_scripted_call(request, i, c) for i, c in enumerate(scripted.tool_calls))
            thought = scripted.reasoning
            forced_finish = scripted.finish_reason
        else:
            content, calls = _answer(request)
            thought = _reasoning(request) if reasoning else None
            forced_finish = None
        return _finish(content, calls, thought, forced_finish, prompt_tokens, max_tokens)


# --- composing the output ------------------------------------------------------------


def _finish(
    content: str,
    calls: tuple[ToolCall, ...],
    reasoning: str | None,
    forced_finish: str | None,
    prompt_tokens: int,
    max_tokens: int,
) -> ModelOutput:
    finish = "tool_calls" if calls else "stop"
    reasoning_tokens = count_tokens(reasoning) if reasoning else 0
    if reasoning_tokens > max_tokens and reasoning:
        reasoning = _truncate(reasoning, max_tokens)
        reasoning_tokens = count_tokens(reasoning)
    budget = max_tokens - reasoning_tokens
    if not calls and count_tokens(content) > budget:
        content = _truncate(content, budget)
        finish = "length"
    completion = (
        count_tokens(content)
        + reasoning_tokens
        + sum(count_tokens(c.name) + count_tokens(c.arguments) for c in calls)
    )
    return ModelOutput(
        content=content,
        finish_reason=forced_finish or finish,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        reasoning=reasoning,
        reasoning_tokens=reasoning_tokens,
        tool_calls=calls,
    )


def _truncate(text: str, tokens: int) -> str:
    """The longest run of whole words of ``text`` within ``tokens`` fake tokens."""
    kept = ""
    for word in re.findall(r"\s*\S+", text):
        if count_tokens(kept + word) > tokens:
            break
        kept += word
    return kept


def _from_raw(raw: Mapping[str, Any], prompt_tokens: int) -> ModelOutput:
    """A scripted completion body; streams are rendered from its first choice."""
    choices = raw.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message", {}) if isinstance(choice, Mapping) else {}
    message = message if isinstance(message, Mapping) else {}
    calls = []
    for i, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_scripted_{i}"),
                name=str(function.get("name", "")),
                arguments=_arguments_text(function.get("arguments", "")),
            )
        )
    content = message_text(message.get("content"))
    reasoning = message.get("reasoning_content")
    raw_usage = raw.get("usage")
    usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
    finish = choice.get("finish_reason") if isinstance(choice, Mapping) else None
    return ModelOutput(
        content=content,
        finish_reason=str(finish or ("tool_calls" if calls else "stop")),
        prompt_tokens=int(usage.get("prompt_tokens", prompt_tokens)),
        completion_tokens=int(usage.get("completion_tokens", count_tokens(content))),
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=tuple(calls),
        raw=raw,
    )


def _arguments_text(arguments: object) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, separators=(",", ":"))


def _call_id(request: _Request, index: int, name: str) -> str:
    seed = f"{len(request.messages)}:{index}:{name}:{request.user_text}"
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def _scripted_call(request: _Request, index: int, call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function")
    spec = function if isinstance(function, Mapping) else call
    name = str(spec.get("name", ""))
    return ToolCall(
        id=str(call.get("id") or _call_id(request, index, name)),
        name=name,
        arguments=_arguments_text(spec.get("arguments", {})),
    )


def _reasoning(request: _Request) -> str | None:
    effort = request.body.get("reasoning_effort")
    thinking = request.body.get("thinking")
    if effort == "none" or (isinstance(thinking, Mapping) and thinking.get("type") == "disabled"):
        return None
    topic = " ".join(request.user_text.split()[:12]) or "the conversation"
    return f"The user asked about: {topic}. I will answer directly."


# --- the default behaviour ------------------------------------------------------------


def _answer(request: _Request) -> tuple[str, tuple[ToolCall, ...]]:
    last = request.messages[-1] if request.messages else {}
    if last.get("role") in ("tool", "function"):
        return _after_tool_results(request), ()
    calls = _tool_calls(request)
    if calls:
        return "", calls
    text = _plain_answer(request.user_text)
    structured = _structured(request, text)
    return (structured if structured is not None else text), ()


def _plain_answer(user_text: str) -> str:
    number = arithmetic(user_text)
    return number if number is not None else f"Echo: {user_text}"


def _after_tool_results(request: _Request) -> str:
    names: dict[str, str] = {}
    for message in request.messages:
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    results = []
    for message in reversed(request.messages):
        if message.get("role") not in ("tool", "function"):
            break
        name = names.get(str(message.get("tool_call_id")), str(message.get("name") or "tool"))
        results.append(f"{name} returned {message_text(message.get('content')).strip()}")
    return "Based on the tool results: " + "; ".join(reversed(results)) + "."


def _offered_functions(request: _Request) -> list[Mapping[str, Any]]:
    tools = request.body.get("tools")
    if not isinstance(tools, list):
        return []
    functions = []
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type", "function") == "function":
            function = tool.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                functions.append(function)
    return functions


def _mention(name: str, text: str) -> int | None:
    """Where ``name`` (or ``name`` with spaces for underscores) first appears in ``text``."""
    found = []
    for form in {name.lower(), name.lower().replace("_", " ")}:
        match = re.search(r"(?<!\w)" + re.escape(form) + r"(?!\w)", text.lower())
        if match:
            found.append(match.start())
    return min(found) if found else None


def _tool_calls(request: _Request) -> tuple[ToolCall, ...]:
    functions = _offered_functions(request)
    choice = request.body.get("tool_choice", "auto")
    if not functions or choice == "none":
        return ()
    if isinstance(choice, Mapping):
        forced = choice.get("function", choice)
        wanted = forced.get("name") if isinstance(forced, Mapping) else None
        chosen = [f for f in functions if f["name"] == wanted][:1]
    else:
        positions = [(_mention(f["name"], request.user_text), i) for i, f in enumerate(functions)]
        chosen = [functions[i] for pos, i in sorted((p, i) for p, i in positions if p is not None)]
        if not chosen and choice == "required":
            chosen = functions[:1]
        if request.body.get("parallel_tool_calls") is False:
            chosen = chosen[:1]
    source = _ValueSource(request.user_text, exclude={f["name"] for f in functions})
    calls = []
    for index, function in enumerate(chosen):
        parameters = function.get("parameters")
        schema = parameters if isinstance(parameters, Mapping) else {}
        arguments = _object_for(schema, schema, source)
        calls.append(
            ToolCall(
                id=_call_id(request, index, function["name"]),
                name=function["name"],
                arguments=json.dumps(arguments, separators=(",", ":")),
            )
        )
    return tuple(calls)


def _structured(request: _Request, text: str) -> str | None:
    fmt = request.body.get("response_format")
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_object":
        keys = _requested_keys(request.user_text) or ("answer",)
        return json.dumps(dict.fromkeys(keys, text))
    if fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        return json.dumps({"answer": text})
    source = _ValueSource(request.user_text)
    return json.dumps(_value_for(schema, schema, "answer", source))


_KEYS_RE = re.compile(r"""((?:['"`][\w-]+['"`][\s,]*(?:and\s+|or\s+)?)+)(?:keys|fields)\b""")
_QUOTED_NAME_RE = re.compile(r"""['"`]([\w-]+)['"`]""")


def _requested_keys(text: str) -> tuple[str, ...]:
    """The quoted names before "keys" or "fields" in a prompt, in order, without repeats."""
    match = _KEYS_RE.search(text)
    if match is None:
        return ()
    return tuple(dict.fromkeys(_QUOTED_NAME_RE.findall(match.group(1))))


# --- values from JSON schemas ---------------------------------------------------------


class _ValueSource:
    """Argument values taken from the prompt: ``name=value``, quoted text, names, numbers."""

    _ASSIGN_RE = re.compile(r"\b(\w+)\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)")
    _QUOTED_RE = re.compile(r"\"([^\"]+)\"|'([^']+)'")
    _NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
    _WORD_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w-]*)")

    def __init__(self, text: str, exclude: set[str] | frozenset[str] = frozenset()) -> None:
        self._assigned: dict[str, str] = {
            k.lower(): v.strip("\"'") for k, v in self._ASSIGN_RE.findall(text)
        }
        quoted = [a or b for a, b in self._QUOTED_RE.findall(text)]
        unquoted = self._QUOTED_RE.sub(" ", text)
        names = [w for w in self._WORD_RE.findall(unquoted.strip()) if w not in exclude]
        self._strings: deque[str] = deque(quoted + names)
        self._numbers = deque(float(n) for n in self._NUMBER_RE.findall(unquoted))
        self._counter = 0

    def string(self, name: str) -> str:
        if name.lower() in self._assigned:
            return self._assigned[name.lower()]
        return self._strings.popleft() if self._strings else "x"

    def number(self, name: str, integer: bool) -> int | float:
        value: float | None = None
        if name.lower() in self._assigned:
            try:
                value = float(self._assigned[name.lower()])
            except ValueError:
                value = None
        if value is None and self._numbers:
            value = self._numbers.popleft()
        if value is None:
            self._counter += 1
            value = float(self._counter)
        return int(value) if integer or value.is_integer() else value


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(32):  # bounded: a self-referencing $ref must not loop forever
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        if not isinstance(target, Mapping):
            return {}
        schema = target
    return {}


def _value_for(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    name: str,
    source: _ValueSource,
    depth: int = 0,
) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            usable = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            if usable:
                return _value_for(usable[0], root, name, source, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object" and depth < 8:
        return _object_for(schema, root, source, depth + 1)
    if kind == "array":
        items = schema.get("items")
        count = max(int(schema.get("minItems", 1) or 1), 1)
        if isinstance(items, Mapping) and depth < 8:
            return [_value_for(items, root, name, source, depth + 1) for _ in range(count)]
        return []
    if kind in ("integer", "number"):
        return source.number(name, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return source.string(name)


def _object_for(
    schema: Mapping[str, Any], root: Mapping[str, Any], source: _ValueSource, depth: int = 0
) -> dict[str, Any]:
    schema = _resolve(schema, root)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    required = schema.get("required")
    names = [n for n in required if n in properties] if isinstance(required, list) else []
    return {
        n: _value_for(properties[n], root, n, source, depth)
        for n in names
        if isinstance(properties[n], Mapping)
    }


# --- arithmetic ---------------------------------------------------------------------------

_NUM = r"\(*\s*-?\d+(?:\.\d+)?\s*\)*"
_OP = r"(?:[-+*/×÷^]|x(?=\s*\(*\s*-?\d))"
_EXPRESSION_RE = re.compile(rf"{_NUM}(?:\s*{_OP}\s*{_NUM})+")
_QUESTION_RE = re.compile(
    r"^(?:(?:what(?:'s| is)|how much is|calculate|compute|evaluate)\s+)?(.*?)\s*[?=.!]*\s*$",
    re.IGNORECASE,
)
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def arithmetic(text: str) -> str | None:
    """The answer to a prompt that is just simple arithmetic ("what is 2+2?"), else ``None``."""
    match = _QUESTION_RE.match(text.strip())
    candidate = match.group(1) if match else ""
    if not candidate or not _EXPRESSION_RE.fullmatch(candidate):
        return None
    expression = candidate.replace("×", "*").replace("x", "*").replace("÷", "/").replace("^", "**")
    try:
        value = _evaluate(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, float):
        return f"{round(value, 6):.6f}".rstrip("0").rstrip(".")
    return str(value)


def _evaluate(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _evaluate(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise ValueError("exponent too large")
        result: int | float = _BINARY[type(node.op)](left, right)
        return result
    raise ValueError("not simple arithmetic")
