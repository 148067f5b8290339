"""The variables table of every role's README, rendered from the role's meta/argument_specs.yml
(entry point `main`) and defaults/main.yml, so that a setting is described in those two files
only. `python tests/role_docs.py` rewrites the tables; with --check it rewrites nothing and
exits 1 naming the READMEs whose table differs from the rendered one.

A row is the variable, its default and its meaning. The default is the spec's `default`, else
the value in defaults/main.yml: a reference to another variable is shown as that variable's
name, a string that embeds variables as `<name>` in their place, and any other expression as
"computed" (the description then says what it comes to). The meaning is the spec's
description on one line, followed by the choices when the description does not name them."""

import argparse
import functools
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES_DIR = ROOT / "roles"
COMMAND = ".venv/bin/python tests/role_docs.py"
HEADING = "## Variables"
HEADER = ["| variable | default | meaning |", "|---|---|---|"]
# Ansible's own variables that a default may stand for, on top of the roles' variables.
ANSIBLE_VARIABLES = {"inventory_hostname"}
# Longest rendering of a list or dict default, and of a string default, before it is shortened.
MAX_STRUCTURE = 100
MAX_STRING = 64
ELLIPSIS = "..."
TEMPLATE = re.compile(r"{{\s*(.*?)\s*}}", re.S)
NAME = re.compile(r"[a-z_][a-z0-9_]*")
# A variable standing for itself unless unset: `{{ name | default(...) }}`.
DEFAULTED_NAME = re.compile(r"([a-z_][a-z0-9_]*)\s*\|\s*default\(.*\)", re.S)
# A word of a description holding a placeholder such as credentials/kafka_sasl_<user>_password:
# shown as code, since a browser would take <user> for an HTML tag.
PLACEHOLDER_WORD = re.compile(r"[^\s(`]*<[a-z0-9_ ]+>[^\s,;)`]*")
WORD = re.compile(r"(?<![\w`/.<])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w`/<>])")


def roles():
    """The roles that describe their variables in meta/argument_specs.yml."""
    return sorted(path.parent.parent.name for path in ROLES_DIR.glob("*/meta/argument_specs.yml"))


def load(role, relative):
    return yaml.safe_load((ROLES_DIR / role / relative).read_text()) or {}


def main_options(role):
    """The options of the role's entry point main; a role without tasks/main.yml (celery_app,
    whose services include its entry points check and prepare) documents them under check."""
    specs = load(role, "meta/argument_specs.yml")["argument_specs"]
    return specs["main" if (ROLES_DIR / role / "tasks" / "main.yml").exists() else "check"]["options"]


@functools.cache
def known_variables():
    """Every role's variables, which a templated default may refer to by name."""
    names = set(ANSIBLE_VARIABLES)
    for role in roles():
        names.update(main_options(role))
    return frozenset(names)


def code(text):
    """Markdown code span of text, safe inside a table cell."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def flow_scalar(value):
    """A scalar as YAML flow style writes it (quoted only when it has to be)."""
    if isinstance(value, str) and "\n" in value:
        value = value.split("\n", 1)[0] + ELLIPSIS
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 20, allow_unicode=True).strip()[1:-1]


def flow(value, budget=None):
    """A list or dict in compact YAML flow style; with a budget, items that do not fit are
    replaced by an ellipsis (and the first one is shortened itself when it alone is too long)."""
    if isinstance(value, dict):
        opening, closing = "{", "}"
        items = [(f"{flow_scalar(key)}: ", item) for key, item in value.items()]
    elif isinstance(value, list):
        opening, closing = "[", "]"
        items = [("", item) for item in value]
    else:
        return flow_scalar(value)
    rendered = [prefix + flow(item) for prefix, item in items]
    whole = opening + ", ".join(rendered) + closing
    if budget is None or len(whole) <= budget:
        return whole
    # Room for the brackets and a trailing ", ...".
    room = budget - len(opening) - len(closing) - len(ELLIPSIS) - 2
    kept = []
    for (prefix, item), text in zip(items, rendered, strict=True):
        if len(", ".join([*kept, text])) <= room:
            kept.append(text)
            continue
        if not kept and isinstance(item, (dict, list)):
            kept.append(prefix + flow(item, room - len(prefix)))
        break
    if len(kept) < len(items):
        kept.append(ELLIPSIS)
    return opening + ", ".join(kept) + closing


def shorten(text):
    """A long string default cut down: a URL or path to its start and its last part, anything
    else to its beginning."""
    if len(text) <= MAX_STRING:
        return text
    head, sep, tail = text.rpartition("/")
    if sep:
        scheme, _, rest = head.partition("://")
        start = f"{scheme}://{rest.split('/', 1)[0]}" if rest else head.split("/", 1)[0]
        short = f"{start}/{ELLIPSIS}/{tail}"
        if len(short) <= MAX_STRING:
            return short
    return text[: MAX_STRING // 3] + ELLIPSIS


def render_template(text, known):
    """A templated string default as the table shows it, or None when it is an expression
    that only the description can put in words."""
    expressions = TEMPLATE.findall(text)
    whole = TEMPLATE.fullmatch(text.strip())
    if whole:
        defaulted = DEFAULTED_NAME.fullmatch(whole.group(1))
        name = defaulted.group(1) if defaulted else whole.group(1)
        return code(name) if name in known else None
    if all(NAME.fullmatch(expression) and expression in known for expression in expressions):
        return code(TEMPLATE.sub(lambda m: f"<{m.group(1)}>", text))
    return None


def render_default(spec, literal, known):
    value = spec.get("default", literal)
    if isinstance(value, str) and "{{" in value:
        return render_template(value, known) or "computed"
    if isinstance(value, str):
        return code(shorten(value) if value else '""')
    return code(flow(value, MAX_STRUCTURE))


def mark_up(text, known):
    """A description as a table cell: placeholders and variable names as code, pipes escaped."""

    def placeholder(match):
        word = match.group(0).rstrip(".:")
        return code(word) + match.group(0)[len(word) :]

    def plain(part):
        part = WORD.sub(lambda m: code(m.group(0)) if m.group(0) in known else m.group(0), part)
        return part.replace("|", "\\|")

    parts = re.split(r"(`[^`]*`)", PLACEHOLDER_WORD.sub(placeholder, text))
    return "".join(part if part.startswith("`") else plain(part) for part in parts)


def names_every_choice(description, choices):
    return all(re.search(rf"(?<![\w-]){re.escape(str(choice))}(?![\w-])", description) for choice in choices)


def render_meaning(spec, known):
    description = spec.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    description = " ".join(str(description).split())
    choices = spec.get("choices")
    if choices and not names_every_choice(description, choices):
        if description and description[-1] not in ".!?":
            description += "."
        description = f"{description} One of: {', '.join(str(choice) for choice in choices)}.".strip()
    return mark_up(description, known)


def render_rows(role, known=None):
    known = known_variables() if known is None else known
    defaults = load(role, "defaults/main.yml")
    return [
        f"| {code(name)} | {render_default(spec, defaults.get(name), known)} | {render_meaning(spec, known)} |"
        for name, spec in main_options(role).items()
    ]


def table_span(lines):
    """Start and end (exclusive) of the table under the variables heading."""
    if HEADING not in lines:
        raise ValueError(f"no {HEADING!r} heading")
    heading = lines.index(HEADING)
    start = next(i for i in range(heading + 1, len(lines)) if lines[i].startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return start, end


def current_readme(role):
    return (ROLES_DIR / role / "README.md").read_text()


def table(text):
    """The lines of the variables table in a README's text."""
    lines = text.split("\n")
    start, end = table_span(lines)
    return lines[start:end]


def rendered_readme(role, known=None):
    """The role's README with its variables table as the specs render it; the text before
    and after the table as it is."""
    text = current_readme(role)
    lines = text.split("\n")
    start, end = table_span(lines)
    return "\n".join(lines[:start] + HEADER + render_rows(role, known) + lines[end:])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Rewrite the variables table of every role's README.")
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 if a table is out of date")
    check = parser.parse_args(argv).check
    known = known_variables()
    stale = []
    for role in roles():
        text = rendered_readme(role, known)
        if text != current_readme(role):
            stale.append(f"roles/{role}/README.md")
            if not check:
                (ROLES_DIR / role / "README.md").write_text(text)
    if check and stale:
        print(f"Variables tables out of date (run {COMMAND}):", *stale, sep="\n  ")
        return 1
    for path in stale:
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
