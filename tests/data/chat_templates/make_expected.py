#!/usr/bin/env python3
"""Renders every *.jinja here with the real Jinja2, configured exactly as Hugging Face transformers'
apply_chat_template does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
transformers' tojson / raise_exception / strftime_now), and writes expected.json.

strftime_now reads a fixed clock (2025-03-09 14:05:07) so the output is reproducible; the C# tests use the
same instant. Run: python3 make_expected.py   (jinja2 3.1.x)
"""
import json
import os
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2025, 3, 9, 14, 5, 7)
HERE = os.path.dirname(os.path.abspath(__file__))


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' override of Jinja's tojson (no HTML escaping).
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


class AssistantTracker(Extension):
    """transformers' {% generation %} tag, minus the assistant-mask bookkeeping: renders its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def m(role, content):
    return {"role": role, "content": content}


MESSAGES = {
    "user": [m("user", "Hello!")],
    "sys_user": [m("system", "You are a helpful assistant."), m("user", "What is 2+2?")],
    "multi": [m("user", "Hi there"), m("assistant", "Hello! How can I help?"), m("user", "Tell me a joke.")],
    "sys_multi": [m("system", "Be terse."), m("user", "Hi"), m("assistant", "Hey."), m("user", "Bye")],
    "unicode": [m("user", "héllo 世界 🙂 — naïve café"), m("assistant", "Ça va? ✓ Ωμέγα"), m("user", "日本語で答えて")],
    "tricky": [m("system", "  Padded system\n\n"), m("user", "He said \"hi\" and 'bye'\\ back\nline2\n\n  indented\t<b>&amp;</b>"),
               m("assistant", "  {{ not a tag }} {% neither %}  "), m("user", "</think> ends? <think>x</think>done")],
    "bad_alternation": [m("user", "one"), m("user", "two")],
    "assistant_first": [m("assistant", "I speak first"), m("user", "ok")],
    "empty_content": [m("user", ""), m("assistant", ""), m("user", " ")],
    "think": [m("user", "Q1"), m("assistant", "<think>\nreasoning here\n</think>\n\nAnswer 1"), m("user", "Q2")],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

TOOL_CONVERSATION = [
    m("system", "You can call tools."),
    m("user", "What's the weather in Paris?"),
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
    {"role": "tool", "tool_call_id": "call12345", "content": "{\"temperature\": 22.5, \"sky\": \"clear\"}"},
    m("assistant", "It is 22.5°C and clear in Paris."),
    m("user", "Thanks!"),
]

TOOL_CONVERSATION_NO_SYSTEM = TOOL_CONVERSATION[1:]

BASIC = ["user", "sys_user", "multi", "sys_multi", "unicode", "tricky", "assistant_first", "empty_content", "think"]

# template -> (message sets, extra-variable sets)
PLAN = {
    "llama3_instruct": (BASIC, [None]),
    "llama31_instruct": (BASIC, [None, {"tools": [WEATHER_TOOL]}, {"tools": [WEATHER_TOOL], "tools_in_user_message": False},
                                 {"date_string": "01 Jan 2025"}, {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}]),
    "llama32_instruct": (BASIC, [None]),
    "llama2_chat": (BASIC + ["bad_alternation"], [None]),
    "mistral_v01": (BASIC + ["bad_alternation"], [None]),
    "mistral_v03": (BASIC + ["bad_alternation"], [None, {"tools": [WEATHER_TOOL]}]),
    "qwen25_instruct": (BASIC, [None, {"tools": [WEATHER_TOOL]}]),
    "qwen3": (BASIC, [None, {"tools": [WEATHER_TOOL]}, {"enable_thinking": False}]),
    "phi3": (BASIC, [None]),
    "gemma": (BASIC + ["bad_alternation"], [None]),
    "deepseek_llm_chat": (BASIC, [None]),
    "deepseek_r1": (BASIC, [None]),
    "zephyr": (BASIC, [None]),
    "chatml": (BASIC, [None]),
    "features": (["user", "sys_multi", "tricky"], [None]),
}

# Conversations with tool calls go in as a "messages" extra variable (overriding the plain role/content list).
TOOL_CASES = {
    "llama31_instruct": [{"messages": TOOL_CONVERSATION, "tools": [WEATHER_TOOL]}],
    "mistral_v03": [{"messages": TOOL_CONVERSATION_NO_SYSTEM, "tools": [WEATHER_TOOL]}],
    "qwen25_instruct": [{"messages": TOOL_CONVERSATION, "tools": [WEATHER_TOOL]}],
    "qwen3": [{"messages": TOOL_CONVERSATION, "tools": [WEATHER_TOOL]}],
}

BOS = {"llama3_instruct": "<|begin_of_text|>", "llama31_instruct": "<|begin_of_text|>", "llama32_instruct": "<|begin_of_text|>",
       "gemma": "<bos>", "deepseek_llm_chat": "<｜begin▁of▁sentence｜>", "deepseek_r1": "<｜begin▁of▁sentence｜>",
       "qwen25_instruct": None, "qwen3": None, "chatml": None}
EOS = {"llama3_instruct": "<|eot_id|>", "llama31_instruct": "<|eot_id|>", "llama32_instruct": "<|eot_id|>",
       "gemma": "<eos>", "phi3": "<|endoftext|>", "qwen25_instruct": "<|im_end|>", "qwen3": "<|im_end|>", "chatml": "<|im_end|>",
       "deepseek_llm_chat": "<｜end▁of▁sentence｜>", "deepseek_r1": "<｜end▁of▁sentence｜>"}


def render(env, source, messages, agp, bos, eos, extra):
    tmpl = env.from_string(source)
    kwargs = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": agp}
    if bos is not None:
        kwargs["bos_token"] = bos
    if eos is not None:
        kwargs["eos_token"] = eos
    kwargs.update(extra or {})
    try:
        return tmpl.render(**kwargs), None
    except jinja2.exceptions.TemplateError as e:
        return None, {"type": type(e).__name__, "message": e.message}


# Small templates for single language features: (template, variables). Syntax errors record Jinja's line number.
SNIPPETS = [
    ("{{ x }}", {"x": "plain"}),
    ("{{ missing }}|{{ missing is defined }}|{{ missing | default('d') }}", {}),
    ("{{ missing.attr }}", {}),
    ("{{ d.nope }}|{{ d['nope'] is defined }}", {"d": {"a": 1}}),
    ("{{ d.nope.deeper }}", {"d": {"a": 1}}),
    ("{{ missing() }}", {}),
    ("{{ missing + 1 }}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ none.x }}", {}),
    ("{% for x in missing %}{{ x }}{% else %}empty{% endfor %}", {}),
    ("{{ raise_exception('custom failure: ' ~ 42) }}", {}),
    ("{% if x is string %}s{% elif x is mapping %}m{% elif x is iterable %}i{% else %}o{% endif %}", {"x": [1]}),
    ("{% if x is string %}s{% elif x is mapping %}m{% elif x is iterable %}i{% else %}o{% endif %}", {"x": {"a": 1}}),
    ("{% if x is string %}s{% elif x is mapping %}m{% elif x is iterable %}i{% else %}o{% endif %}", {"x": 5}),
    ("{{ x | tojson }}", {"x": {"float": 1.0, "big": 12345678901234567890.0, "small": 0.0001, "neg": -0.5, "s": "\u00e9\n\"/"}}),
    ("{{ x | tojson(indent=4) }}", {"x": [[], {}, [1, [2, {"a": []}]]]}),
    ("{{ x }}", {"x": [1.0, 1e16, 1e-5, 123456789.123, 0.1, -2.0, 1e300]}),
    ("{{ 'It''s' }} {{ \"tab\\there\" }} {{ '\\u00e9\\x41\\n' }}", {}),
    ("{% set a, b = [1, 2] %}{{ b }}{{ a }}", {}),
    ("{% for a, b in [[1, 2], [3, 4]] %}{{ a * b }},{% endfor %}", {}),
    ("{% for x in xs if x > 1 %}{{ loop.index }}:{{ x }}/{{ loop.length }} {% endfor %}", {"xs": [1, 2, 3, 0, 5]}),
    ("{% for c in 'héllo' %}{{ c }}.{% endfor %}", {}),
    ("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("{{ messages[0].content if messages else 'none' }}", {"messages": []}),
    ("{{ x.strip().split('\\n') | map('trim') | join('+') }}", {"x": "  a \n b\n c  "}),
    ("{{ (x | length) > 3 and x[:3] == 'abc' }}", {"x": "abcdef"}),
    ("{{ [1, 2, 3] | join(', ') }}{{ [] | join(', ') }}", {}),
    ("{{ x | selectattr('tool_calls', 'defined') | list | length }}", {"x": [{"a": 1}, {"tool_calls": []}]}),
    ("{{ x.append(1) }}", {"x": []}),
    ("a\n  {% if true %}\n  b\n  {% endif %}\n  c\n", {}),
    ("a  {% if true %}b{% endif %}\n{# comment #}\n  {#- c2 -#}  d", {}),
    ("{% if true %}\n{% endif %}", {}),
    ("x {{- ' y ' -}} z", {}),
    ("{{ 1 }}\n", {}),
    ("{{ 1 }}\n\n", {}),
    ("{% for x in [1, 2, 3] %}{{ loop.previtem is defined }}{{ loop.nextitem | default('-') }} {% endfor %}", {}),
    ("{% for x in none_value %}{% endfor %}", {"none_value": None}),
    ("{{ x | items | list }}|{{ missing | items | list }}", {"x": {"a": [1]}}),
    ("{% macro f(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ f('x') }}{{ f('y', b='z') }}{{ f(1, 2) }}", {}),
    ("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("{% generation %}gen {{ 1 }}{% endgeneration %}", {}),
    ("{{ '%d items' % n }} {{ 'x=%s' % (none,) }}", {"n": 3}),
    ("{{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ {'a': 1} == {'a': 1.0} }} {{ 'a' != 'a' }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ x[5] }}|{{ x[5] is defined }}|{{ x[-1] }}", {"x": [1, 2]}),
    ("{{ x[5].y }}", {"x": [1, 2]}),
    ("{{ 10 / 0 }}", {}),
    ("{{ range(200000) | length }}", {}),
    ("{{ 'abc' | first }}{{ [] | first }}{{ x | last }}", {"x": "xyz"}),
    ("{{ true }}{{ True }}{{ none }}{{ None }}{{ false | string | lower }}", {}),
    ("{{ 'a b' ~ 1.50 ~ 2 ~ -0.0 }}", {}),
    ("{% set x = 'outer' %}{% if true %}{% set x = 'inner' %}{% endif %}{{ x }}", {}),
    ("{% set ns = namespace(items=[]) %}{% for i in range(3) %}{% set ns.items = ns.items + [i * 2] %}{% endfor %}{{ ns.items }}", {}),
    ("{{ x.content.content is defined }}|{{ x.content.upper() }}", {"x": {"content": "hi"}}),
    ("{{ 'ÄbC'.lower() }}{{ 'straße'.upper() }}{{ 'hello world'.capitalize() }}{{ '  x  '.strip() | length }}", {}),
    ("{{ d | tojson(indent=2, sort_keys=true) }}", {"d": {"z": {"b": None, "a": [True, False]}, "a": "é"}}),
    ("{%- for m in messages -%}\n  {{- m.role }}\n{% endfor -%}\n", {"messages": [{"role": "a"}, {"role": "b"}]}),
    ("{% for i in range(3) %}{% for j in range(3) %}{% if j == 1 %}{% break %}{% endif %}{{ i }}{{ j }} {% endfor %}{% endfor %}", {}),
    ("{{ messages | selectattr('role', 'in', ['user', 'tool']) | map(attribute='role') | join }}", {"messages": [{"role": "user"}, {"role": "system"}, {"role": "tool"}]}),
    ("{{ cycle_me }}{% set cycle_me = 2 %}{{ cycle_me }}", {"cycle_me": 1}),
    ("{{ a.b.c }}", {"a": {"b": {"c": "deep"}}}),
    ("{{ 'x' if a is sameas true else 'y' }} {{ 3 is ge 2 }} {{ 'q' is in 'xqz' }}", {"a": True}),
    ("{{ -1 | abs }} {{ -x | abs }} {{ not x == 3 }} {{ 2 * 3 ** 2 }} {{ -2 ** 2 }} {{ 1 + 2 ~ 3 }}", {"x": 3}),
    ("{{ ['a\\'b', 'c\"d', 'e\\nf', 'g\\\\h', 'é'] }}", {}),
    ("{{ x.split(maxsplit=1) }} {{ x.split(' ', 2) }} {{ x.rsplit(' ', 1) }} {{ x.splitlines() }}", {"x": "a b c\nd"}),
    ("{{ '{\"a\": 1}' | tojson }} {{ 'x</script>' | tojson }} {{ [1, [2]] | tojson(separators=(',', ':')) }}", {}),
    ("{% for x in xs recursive %}{{ x.n }}{% endfor %}", {"xs": [{"n": 1}, {"n": 2}]}),
    ("{{ xs | map(attribute='a.b') | list }} {{ xs | sort(attribute='a.b') | map(attribute='a.b') | join }}", {"xs": [{"a": {"b": 2}}, {"a": {"b": 1}}]}),
    ("{{ xs | selectattr('x') | list | length }} {{ xs | rejectattr('x', 'none') | list | length }}", {"xs": [{"x": 0}, {"x": 1}, {"x": None}]}),
    ("{{ '  a  ' | trim('a ') }}|{{ 'abc' | trim('ac') }}|{{ 'x' | center(5) if false else 'c' }}", {}),
    ("{{ x | string }} {{ x | list }} {{ x | length }}", {"x": {"k": "v"}}),
    ("{{ 'abc' is sequence }} {{ 1 is sequence }} {{ {} is sequence }} {{ none is iterable }} {{ range is callable }}", {}),
    ("{{ [1, 2, 3][1:][0] }} {{ 'hello'[1:-1] }} {{ [1, 2, 3][5:] }} {{ [1, 2, 3][::2] }} {{ 'abcdef'[4:1:-1] }}", {}),
    ("{% set a = [3, 1] %}{% set b = a | sort %}{{ a }}{{ b }}", {}),
    ("{{ 'Hello %s, you are %d' % ('Bob', 30) }} {{ '{0}-{1}-{0}'.format('a', 'b') }} {{ '{x}!'.format(x=1) }}", {}),
    ("{{ 1.0 | int }} {{ '0x1A' | int(0, 16) }} {{ '12.7' | int }} {{ true | int }} {{ 'nan' | float }}", {}),
    ("{% if not messages %}none{% endif %}{% if messages is defined and messages|length == 0 %}empty{% endif %}", {"messages": []}),
    ("{{ messages[-1]['content'] }}{{ messages[0]['content'][:3] }}", {"messages": [{"role": "user", "content": "first message"}, {"role": "a", "content": "last"}]}),
    ("{%- set sys = messages[0] if messages[0].role == 'system' else none -%}{{ sys.content if sys else 'no system' }}", {"messages": [{"role": "user", "content": "x"}]}),
    # syntax errors
    ("{% for x in xs %}\n{% if x %}\n{% endfor %}", {}),
    ("{{ }}", {}),
    ("{% set %}", {}),
    ("{{ f(a=1, 2) }}", {}),
    ("text {# unclosed comment", {}),
    ("{% macro m( %}{% endmacro %}", {}),
    ("{% if x %}unterminated", {}),
    ("line1\n{{ x + }}", {}),
    ("{% for x in %}{% endfor %}", {}),
    ("{% endif %}", {}),
    ("ok\nok\n{% if x %}{% endfor %}", {}),
    ("{{ 'unterminated }}", {}),
    ("{% bogus %}", {}),
    ("{{ x | nosuchfilter }}", {}),
    ("{{ x is nosuchtest }}", {}),
    ("{{ x ]] }}", {}),
]


def run_snippets(env):
    out = []
    for source, variables in SNIPPETS:
        entry = {"template": source, "variables": variables, "expected": None, "error": None}
        try:
            entry["expected"] = env.from_string(source).render(**variables)
        except jinja2.exceptions.TemplateSyntaxError as e:
            entry["error"] = {"type": type(e).__name__, "message": e.message, "lineno": e.lineno}
        except Exception as e:  # TemplateError, or Python's TypeError & co. from inside the template
            entry["error"] = {"type": type(e).__name__, "message": str(e)}
        out.append(entry)
    return out


def main():
    env = make_env()
    cases = []
    for name, (sets, extras) in PLAN.items():
        with open(os.path.join(HERE, name + ".jinja"), encoding="utf-8") as f:
            source = f.read()
        bos = BOS.get(name, "<s>")
        eos = EOS.get(name, "</s>")
        runs = [(s, MESSAGES[s], e) for s in sets for e in extras]
        runs += [("tools", [], e) for e in TOOL_CASES.get(name, [])]
        for set_name, messages, extra in runs:
            for agp in (True, False):
                text, error = render(env, source, messages, agp, bos, eos, extra)
                extra_keys = "+".join(sorted(extra)) if extra else "plain"
                cases.append({
                    "name": f"{name}/{set_name}/{extra_keys}/agp={str(agp).lower()}",
                    "template": name + ".jinja",
                    "messages": messages,
                    "add_generation_prompt": agp,
                    "bos_token": bos,
                    "eos_token": eos,
                    "extra": extra,
                    "expected": text,
                    "error": error,
                })
    out = {"generator": f"jinja2 {jinja2.__version__}, transformers chat-template settings",
           "fixed_now": FIXED_NOW.isoformat(), "cases": cases, "snippets": run_snippets(env)}
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {sum(1 for c in cases if c['error'])} raising")


if __name__ == "__main__":
    main()
