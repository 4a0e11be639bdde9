# Regenerates engine-cases.json with Python Jinja2 configured as transformers configures it:
#   python3 generate.py  (run in this folder; strftime_now is fixed at 2026-07-06)
import json
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters['tojson'] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
cases = [
 ("{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}{{ '|' if not loop.last }}{% endfor %}", {"items": ["a","b","c"]}),
 ("{% for x in items %}{{ x }}{% else %}empty{% endfor %}", {"items": []}),
 ("{% for x in items if x != 'b' %}{{ loop.index }}{{ x }}{% endfor %}", {"items": ["a","b","c"]}),
 ("{% for x in items %}{% if x == 'b' %}{% continue %}{% endif %}{% if x == 'd' %}{% break %}{% endif %}{{ x }}{% endfor %}", {"items": ["a","b","c","d","e"]}),
 ("{{ items[1:] }} {{ items[::-1] }} {{ items[-2:] }} {{ 'hello'[1:3] }} {{ items[:-1] }} {{ 'abc'[::-1] }}", {"items": [1,2,3,4]}),
 ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ 'a' ~ 1 ~ none }} {{ 4 / 2 }}", {}),
 ("{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 'a' is string }} {{ d is mapping }} {{ d is iterable }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ true is boolean }} {{ 1 is number }} {{ false is false }} {{ 'x' is not none }}", {"x": 1, "d": {"a": 1}}),
 ("{{ y }}|{{ y | length }}|{{ not y }}|{{ y == none }}|{% for a in y %}x{% endfor %}|{{ y | default('dflt') }}|{{ '' | default('e', true) }}", {}),
 ("{{ d.get('a') }} {{ d.get('z', 'no') }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys() | list }} {{ d | items | list }} {{ 'a' in d }} {{ d.missing is defined }}", {"d": {"a": 1, "b": [1, "x"]}}),
 ("{{ '  x y  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,c'.split(',') }}|{{ 'a b  c'.split() }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith('lo') }}|{{ 'hello'.upper() }}|{{ 'hello world'.title() }}|{{ 'a-b'.replace('-', '+') }}|{{ '\n\nx'.lstrip('\n') }}", {}),
 ("{{ x | tojson }}|{{ x | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ [] | tojson(indent=2) }}", {"x": {"a": [1, 2.5, True, None], "b": {"c": "ü"}}}),
 ("{{ items | join(', ') }}|{{ items | first }}|{{ items | last }}|{{ items | length }}|{{ '  t  ' | trim }}|{{ 'ab' | upper }}|{{ 'hello world' | capitalize }}|{{ 'x' | replace('x', 'y') }}|{{ '42' | int + 1 }}|{{ 3 | string }}|{{ ['b','a'] | list }}", {"items": ["a", "b"]}),
 ("{{ users | selectattr('admin') | map(attribute='name') | join(',') }}|{{ users | rejectattr('admin') | map(attribute='name') | list }}|{{ [1,2,3,4] | select('odd') | list }}|{{ ['a','b'] | reject('equalto', 'a') | list }}", {"users": [{"name": "ann", "admin": True}, {"name": "bob", "admin": False}]}),
 ("{% set ns = namespace(count=0, found=false) %}{% for i in range(3) %}{% set ns.count = ns.count + i %}{% set local = i %}{% endfor %}{{ ns.count }} {{ local is defined }}", {}),
 ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', punct='?') }}", {}),
 ("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]", {}),
 ("a\n  {% if true %}\n    yes\n  {% endif %}\nb\n{# comment #}\nc {{- ' d ' -}} e\n   {%- if true %} f{% endif %}\n", {}),
 ("{{ 'yes' if x else 'no' }} {{ 'yes' if y else 'no' }} {{ x and y }} {{ x or y }} {{ 1 < 2 < 3 }} {{ 'b' not in 'abc' }} {{ [1, 2] + [3] }} {{ {'k': 'v'}['k'] }} {{ (1, 2) }} {{ True }} {{ None }} {{ 1.5 }} {{ 1e20 }} {{ 0.0001 }}", {"x": 1, "y": 0}),
 ("{% if a %}A{% elif b %}B{% else %}C{% endif %}{% if not a and not b %}!{% endif %}", {"b": True}),
 ("a{% if true +%}\nb{% endif %}{%+ if true %}c{% endif %}\n  {%+ if true %}d{% endif %}\n  {% if true %}e{% endif %}\n\t{# c #}\nf", {}),
 ("{{ strftime_now('%d %b %Y %-d %A') }}", {}),
]
out = []
for t, v in cases:
    try:
        out.append({"template": t, "variables": v, "expected": env.from_string(t).render(**v, strftime_now=lambda f: __import__('datetime').datetime(2026,7,6).strftime(f))})
    except Exception as e:
        out.append({"template": t, "variables": v, "error": f"{type(e).__name__}: {e}"})
json.dump(out, open("engine-cases.json", "w"), ensure_ascii=False, indent=1)
