"""Stage 1, config: ``config/services.yml`` in, a validated :class:`Config` out.

Every key is declared once below (type, default, description). The JSON Schema that editors
use (``schema/services.schema.json``) is generated from these models, so it cannot drift.
YAML is read with the safe loader, node positions are kept so every problem names its line,
duplicate keys and aliases are rejected, and all problems are reported together.
"""

from __future__ import annotations

import datetime
import json
import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from perfgen.errors import ConfigError, Problem, did_you_mean

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=200)]
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens: ``"Queen's Award"`` ->
    ``"queens-award"``, ``"Amending/deleting information"`` -> ``"amending-deleting-information"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = ascii_text.lower().replace("'", "").replace("&", " and ")
    return _SLUG_JUNK.sub("-", ascii_text).strip("-")


CHANNEL_PATTERN = r"^[a-z0-9]+(?:_[a-z0-9]+)*$"
Channel = Annotated[str, Field(pattern=CHANNEL_PATTERN, max_length=50)]
SatisfactionMethod = Literal["mean_score", "top_two_box"]
Frequency = Literal["monthly", "quarterly", "yearly"]

#: Channels every site knows; a site can add its own with ``site.channels``.
DEFAULT_CHANNELS = ["online", "api", "assisted_digital", "phone", "paper", "face_to_face", "email", "other"]
#: Pseudo-channels: ``""`` is a figure for all channels, ``digital`` one for all digital channels.
ALL_CHANNELS = ""
DIGITAL = "digital"

#: KPI ids a service may declare not applicable (kept in step with kpis/kpis.yml by a test).
KPI_IDS = (
    "transactions",
    "digital_transactions",
    "total_cost",
    "cost_per_transaction",
    "digital_cost_per_transaction",
    "completion_rate",
    "user_satisfaction",
    "digital_take_up",
)
KpiId = Literal[KPI_IDS]  # type: ignore[valid-type]  # the same ids, for validation


def check_base_url(value: str | None) -> str | None:
    """A site address: http(s), with a host, ending in "/" (added when missing)."""
    if value is None:
        return None
    if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
        raise ValueError(f"'{value}' is not a site address: write it like https://example.org/performance/")
    return value if value.endswith("/") else value + "/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Strict):
    """Settings for the whole site."""

    title: str = Field("Service performance", min_length=1, description="Site name, shown in every page header and title.")
    base_url: str | None = Field(None, description="Public address of the site, ending in `/` (for example https://example.org/performance/ for a site published under a subpath); used in the Atom feeds and sitemap.xml, which are written only when it is set. Pages link relatively, so they work under any path. `perfgen build --base-url` overrides it.")
    licence: str = Field(
        "Contains public sector information licensed under the Open Government Licence v3.0.",
        description="Licence text shown in the footer and the open data files.",
    )
    source: str | None = Field(None, description="Where the data comes from, shown on the home page.")
    channels: list[Channel] = Field(default_factory=lambda: list(DEFAULT_CHANNELS), description="Channels data may use (besides the empty all-channel figure and `digital`).")
    digital_channels: list[Channel] = Field(default_factory=lambda: ["online"], description="Channels counted as digital unless a service says otherwise.")
    satisfaction_method: SatisfactionMethod = Field("mean_score", description="Headline user satisfaction method: `mean_score` (Performance Platform) or `top_two_box` (satisfied or very satisfied).")
    min_responses: int = Field(100, ge=0, description="Fewer survey responses than this mark a satisfaction figure as low-confidence.")
    min_transactions_to_rank: int = Field(1000, ge=0, description="Fewer transactions than this in a KPI's period and a service is not ranked on the rate KPIs (cost per transaction, completion rate, user satisfaction, digital take-up): it is shown in league tables, marked \"not ranked: fewer than N transactions\".")
    govuk_branding: bool = Field(False, description="Use the GOV.UK crown and the GDS Transport font. Only for sites on a gov.uk domain.")
    data_due_days: int = Field(60, ge=0, description="Days after a period ends by which its figures are due. A service with `expected_frequency` is overdue when the figures for the period after its latest one are later than this.")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return check_base_url(value)


class Department(_Strict):
    """A department (or other top-level organisation) that owns services."""

    slug: Slug = Field(description="Short identifier used in addresses, for example `hmrc`.")
    name: str = Field(min_length=1, description="Full name.")
    abbreviation: str | None = Field(None, description="Abbreviation, for example `HMRC`.")


class Agency(_Strict):
    """An agency or arm's-length body within a department."""

    slug: Slug = Field(description="Short identifier, for example `dvla`.")
    name: str = Field(min_length=1, description="Full name.")
    abbreviation: str | None = Field(None, description="Abbreviation.")
    department: Slug = Field(description="Slug of the department it belongs to.")


#: KPIs shown as percentages: their targets are fractions (0.85 or "85%").
RATE_KPIS = ("completion_rate", "user_satisfaction", "digital_take_up")


def _target_value(value: Any) -> Any:
    """A target as written in YAML: a number, "85%" (a fraction, 0.85) or "£4.50" (4.5)."""
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        match = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*%", text)
        if match:
            return float(match.group(1)) / 100
        match = re.fullmatch(r"£?\s*(-?\d+(?:\.\d+)?)", text)
        if match:
            return float(match.group(1))
    return value


#: What editors may write for a target (the JSON Schema says so too): a number, "85%" or "£4.50".
_TARGET_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*(?:-?\d+(?:\.\d+)?\s*%|£?\s*-?\d[\d,]*(?:\.\d+)?)\s*$"}]}
Target = Annotated[float, BeforeValidator(_target_value), Field(allow_inf_nan=False), WithJsonSchema(_TARGET_SCHEMA)]


class Annotation(_Strict):
    """A dated note on a service's charts and tables, for example when a new online form launched."""

    date: datetime.date = Field(description="The day it happened, as YYYY-MM-DD.")
    text: str = Field(min_length=1, max_length=200, description="What happened, in a few words (plain text), for example `New online form launched`.")
    kpi: KpiId | None = Field(None, description="The KPI it concerns; without it the note applies to every KPI of the service.")


class Part(_Strict):
    """A separately measured part of a service: a transaction (apply, renew, change details) or a stage of one journey."""

    slug: Slug = Field(description="Identifier used in the `service` column of data files for this part's figures; unique among services and parts.")
    name: str = Field(min_length=1, description="Name of the part, for example `Renew`.")
    description: str | None = Field(None, description="What the part covers, in Markdown.")


class PeerGroup(_Strict):
    """A group of comparable services with a league of its own, for example every licensing service."""

    slug: Slug = Field(description="Identifier used in addresses.")
    name: str = Field(min_length=1, description="Name of the group, for example `Licences and permits`.")
    description: str | None = Field(None, description="Why these services are compared, in Markdown.")
    services: list[Slug] = Field(min_length=2, description="Slugs of the services in the group (at least two).")


class Service(_Strict):
    """A transactional service with its own page."""

    slug: Slug = Field(description="Identifier used in data files and addresses, for example `renew-passport`.")
    name: str = Field(min_length=1, description="Name of the service as users know it.")
    department: Slug = Field(description="Slug of the department that owns it.")
    agency: Slug | None = Field(None, description="Slug of the agency that runs it, if any.")
    description: str | None = Field(None, description="What the service does, in Markdown.")
    start_url: str | None = Field(None, description="Where users start the service.")
    notes: str | None = Field(None, description="Notes shown on the service page, in Markdown.")
    cost_notes: str | None = Field(None, description="Notes on how costs were worked out.")
    category: str | None = Field(None, description="Type of service, for example `Licence` or `Benefit`. Services of the same category are ranked among themselves, with league tables of their own when there are two or more.")
    customer_type: str | None = Field(None, description="Who uses it, for example `Individuals` or `Businesses`.")
    business_model: str | None = Field(None, description="How it is paid for, for example `Fees and charges`.")
    transaction_type: str | None = Field(None, description="Kind of transaction, for example `Applications`.")
    keywords: list[str] = Field(default_factory=list, description="Search keywords.")
    digital_channels: list[Channel] | None = Field(None, description="Channels counted as digital for this service (default: `site.digital_channels`).")
    satisfaction_method: SatisfactionMethod | None = Field(None, description="Headline satisfaction method for this service (default: `site.satisfaction_method`).")
    not_applicable: list[KpiId] = Field(default_factory=list, description="KPIs that do not apply to this service; shown as \"Not applicable\" and left out of coverage.")
    expected_frequency: Frequency | None = Field(None, description="How often new figures are expected: `monthly`, `quarterly` or `yearly`. The service is flagged as overdue on its page, its department's page and the data-quality report once the next figures are more than `site.data_due_days` late.")
    targets: dict[KpiId, Target] = Field(default_factory=dict, description="A target per KPI, shown in tables, charts and summaries: money in pounds (`cost_per_transaction: 4.50`), rates as fractions or percentages (`digital_take_up: 0.9` or `\"90%\"`).")
    annotations: list[Annotation] = Field(default_factory=list, description="Dated notes shown on the service's charts and tables, for example `{date: 2023-04-03, text: New online form launched, kpi: digital_take_up}`.")
    parts: list[Part] = Field(default_factory=list, description="Separately measured parts of the service, each with its own figures in the data (under the part's slug). The service's figures are then the sum of its parts, and its page shows the parts side by side.")

    @field_validator("start_url")
    @classmethod
    def _safe_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError(f"'{value}' is not a web address: it must start with https:// or http://")
        return value


class Config(_Strict):
    """The whole of ``config/services.yml``."""

    site: Site = Field(default_factory=Site, description="Site settings.")
    departments: list[Department] = Field(min_length=1, description="Departments, each with a page.")
    agencies: list[Agency] = Field(default_factory=list, description="Agencies (optional).")
    services: list[Service] = Field(default_factory=list, description="Services, each with a page.")
    peer_groups: list[PeerGroup] = Field(default_factory=list, description="Groups of comparable services, each with a league of its own (besides the peers by category).")

    # Convenience look-ups used by later stages.
    def department(self, slug: str) -> Department:
        return next(d for d in self.departments if d.slug == slug)

    def agency(self, slug: str) -> Agency:
        return next(a for a in self.agencies if a.slug == slug)

    def digital_channels_for(self, service: Service) -> list[str]:
        return list(service.digital_channels if service.digital_channels is not None else self.site.digital_channels)

    def satisfaction_method_for(self, service: Service) -> str:
        return service.satisfaction_method or self.site.satisfaction_method

    def known_channels(self) -> list[str]:
        return list(self.site.channels)


# --- YAML with positions -------------------------------------------------------------------

Path_ = tuple[Any, ...]


def _path_text(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Alias:
    """Where an alias (``*name``) is used. PyYAML's composer hands back the anchored node
    itself, which would put the problem on the anchor's line instead of the alias's."""

    def __init__(self, target: yaml.Node, start_mark: yaml.Mark):
        self.target = target
        self.start_mark = start_mark


class _AliasMarkingLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            target = super().compose_node(parent, index)
            assert target is not None  # PyYAML raises for an undefined alias
            return _Alias(target, mark)
        return super().compose_node(parent, index)


def _compose(text: str) -> yaml.Node | None:
    """The document's node tree: libyaml's composer (C, ten times faster on a large config)
    when PyYAML was built with it and the document reads without an error or an alias;
    otherwise PyYAML's own, whose error messages the hints are written for and which marks
    where each alias is used (``_Alias``)."""
    if getattr(yaml, "__with_libyaml__", False):
        try:
            node = yaml.compose(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            pass  # reported by the composer below, in its words
        else:
            if not _shares_nodes(node):
                return node
    return yaml.compose(text, Loader=_AliasMarkingLoader)


def _shares_nodes(root: yaml.Node | None) -> bool:
    """Whether a node is reached twice: libyaml's composer hands back the anchored node for
    each of its aliases, without saying where the alias is."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return True
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return False


class _PositionedYaml:
    """Builds plain Python values from a YAML node tree, remembering each node's line."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self._built: dict[int, Any] = {}

    def build(self, node: yaml.Node | _Alias, path: Path_ = ()) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)  # a key's own line if already known
        if isinstance(node, _Alias):
            self.problems.append(Problem(self.file, node.start_mark.line + 1, _path_text(path), "YAML aliases (*name) are not allowed; write the value out"))
            # The aliased value (None while it is still being built) keeps later checks from
            # reporting a second, misleading problem for the same key.
            return self._built.get(id(node.target))
        value = self._build(node, path)
        self._built[id(node)] = value
        return value

    def _build(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.CollectionNode) and node.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            # Scalars get the same error from PyYAML's safe constructor; lists and mappings are
            # built here, so a tag such as !!python/object would otherwise be silently ignored.
            raise yaml.constructor.ConstructorError(None, None, f"could not determine a constructor for the tag '{node.tag}'", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(Problem(self.file, key_node.start_mark.line + 1, _path_text(path), "YAML merge keys (<<) are not allowed; write the keys out"))
                    continue
                key = yaml.SafeLoader.construct_scalar(_LOADER, key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    self.problems.append(Problem(self.file, key_node.start_mark.line + 1, _path_text(path), "keys must be plain text"))
                    continue
                if key in result:
                    first = self.lines.get(path + (key,))
                    self.problems.append(Problem(self.file, key_node.start_mark.line + 1, _path_text(path + (key,)), f"duplicate key '{key}' (first given on line {first})"))
                    continue
                # The key's line: a block list or mapping as its value only starts on the next one.
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        try:
            return _LOADER.construct_object(node, deep=True)
        except (ValueError, OverflowError):  # YAML reads 2023-13-01 as a date and fails:
            return node.value  # keep the text; the model says what is wrong with it


_LOADER = yaml.SafeLoader("")


_SYNTAX_HINTS = {
    "found character '\\t'": "indent with spaces, not tabs",
    "mapping values are not allowed here": "put text that contains ': ' in quotes, or check the indentation",
    "expected <block end>": "check the indentation: the keys of one mapping, and the items of one list, must start in the same column",
}


def _read_yaml(path: Path, display: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError([Problem(display, None, "", "file not found", hint="create it, or point perfgen at your config with --config")]) from None
    except UnicodeDecodeError as error:
        raw = path.read_bytes()
        try:
            raw.decode("cp1252")
            guess = " (it looks like Windows-1252)"
        except UnicodeDecodeError:
            guess = ""
        bad_line = raw[: error.start].count(b"\n") + 1
        raise ConfigError([Problem(display, bad_line, "", f"the file is not UTF-8 text{guess}", hint="save it as UTF-8")]) from None
    if not text.strip():
        raise ConfigError([Problem(display, 1, "", "the file is empty", hint="it needs at least a 'departments' list")])
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        message = error.problem or error.context or "unreadable YAML"
        if error.problem and error.context and not error.context.startswith("while"):
            message = f"{error.context}, {error.problem}"  # "expected a single document in the stream, but found another document"
        elif error.problem and error.context and error.context_mark:
            message = f"{error.problem} ({error.context} that starts on line {error.context_mark.line + 1})"
        hint = next((h for start, h in _SYNTAX_HINTS.items() if message.startswith(start)), "")
        raise ConfigError([Problem(display, line, "", f"YAML syntax error: {message}", hint=hint)]) from None
    except yaml.YAMLError as error:  # pragma: no cover - composer errors are all marked
        raise ConfigError([Problem(display, None, "", f"YAML error: {error}")]) from None
    builder = _PositionedYaml(display)
    try:
        data = builder.build(node)
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        raise ConfigError([Problem(display, mark.line + 1 if mark else None, "", f"unsupported YAML value: {error.problem}")]) from None
    return data, builder.lines, builder.problems


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(path: Path_) -> type[BaseModel] | None:
    """The model whose keys live at ``path`` (for did-you-mean on unknown keys)."""
    if not path:
        return Config
    head = path[0]
    return {"site": Site, "departments": Department, "agencies": Agency, "services": Service}.get(head)


#: What a key expects, in words, by the start of pydantic's error type (``int_parsing``).
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "list": "a list",
    "dict": "keys with values",
    "model": "keys with values",
}


def _given(value: Any) -> str:
    """A YAML value in words, for "expected ..., got ..."."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "keys with values"
    return f"'{value}'"


_RENAMED_KEYS = {"url": "start_url", "abbr": "abbreviation", "dept": "department", "license": "licence", "digital": "digital_channels"}


def _pydantic_problem(display: str, lines: dict[Path_, int], error: dict[str, Any]) -> Problem:
    loc: Path_ = tuple(error["loc"])
    kind = error["type"]
    where = _path_text(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        hint = ""
        if key in _RENAMED_KEYS:
            hint = f"rename '{key}' to '{_RENAMED_KEYS[key]}'"
        suggestion = did_you_mean(key, _field_names(model)) if model and not hint else ""
        return Problem(display, _line_for(lines, loc), _path_text(loc[:-1]) or "top level", f"unknown key '{key}'{suggestion}", hint=hint)
    if kind == "missing":
        return Problem(display, _line_for(lines, loc), _path_text(loc[:-1]) or "top level", f"required key '{loc[-1]}' is missing")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern")
        if pattern == SLUG_PATTERN:
            message = f"'{error['input']}' is not a valid slug: use lower-case letters, digits and single hyphens, for example 'renew-passport'"
        else:
            message = f"'{error['input']}' is not a valid channel name: use lower-case letters, digits and underscores, for example 'face_to_face'"
        return Problem(display, _line_for(lines, loc), where, message)
    if kind == "literal_error" and loc[-1] == "[key]":  # a key of a mapping keyed by KPI id
        expected = error.get("ctx", {}).get("expected", "")
        return Problem(display, _line_for(lines, loc[:-1]), _path_text(loc[:-2]), f"unknown KPI '{error['input']}'{did_you_mean(str(error['input']), KPI_IDS)}; expected {expected}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Problem(display, _line_for(lines, loc), where, f"'{error['input']}' is not allowed; expected {expected}")
    expected, _, suffix = ("int", "", "type") if kind == "int_from_float" else kind.rpartition("_")
    if suffix in ("type", "parsing") and expected in _EXPECTED:
        value = error["input"]
        if value is None:
            return Problem(display, _line_for(lines, loc), where, f"no value given; expected {_EXPECTED[expected]}")
        hint = "put the value in quotes to keep it as text" if expected == "string" and not isinstance(value, (list, dict)) else ""
        return Problem(display, _line_for(lines, loc), where, f"expected {_EXPECTED[expected]}, got {_given(value)}", hint=hint)
    if kind in ("too_short", "string_too_short") and error.get("ctx", {}).get("min_length") == 1:
        return Problem(display, _line_for(lines, loc), where, "must not be empty")
    if kind == "too_short":
        context = error.get("ctx", {})
        return Problem(display, _line_for(lines, loc), where, f"needs at least {context.get('min_length')} items, got {context.get('actual_length')}")
    message = error["msg"].replace("Value error, ", "").replace("Input should be", "should be")
    message = message[:1].lower() + message[1:]
    if kind != "value_error" and not isinstance(error["input"], (list, dict)):
        message = f"{message} (got {_given(error['input'])})"
    return Problem(display, _line_for(lines, loc), where, message)


def _cross_checks(config: Config, display: str, lines: dict[Path_, int]) -> list[Problem]:
    """Checks pydantic cannot make alone: references, uniqueness, known channels."""
    problems: list[Problem] = []

    def unique(items: list[Any], list_name: str) -> None:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            if item.slug in seen:
                problems.append(Problem(display, _line_for(lines, (list_name, index, "slug")), f"{list_name}[{index}].slug", f"duplicate slug '{item.slug}' (first given at {list_name}[{seen[item.slug]}], line {_line_for(lines, (list_name, seen[item.slug], 'slug'))})"))
            else:
                seen[item.slug] = index

    unique(config.departments, "departments")
    unique(config.agencies, "agencies")
    unique(config.services, "services")
    department_slugs = [d.slug for d in config.departments]
    agency_slugs = {a.slug: a for a in config.agencies}
    for index, agency in enumerate(config.agencies):
        if agency.department not in department_slugs:
            problems.append(Problem(display, _line_for(lines, ("agencies", index, "department")), f"agencies[{index}].department", f"unknown department '{agency.department}'{did_you_mean(agency.department, department_slugs)}"))
    channels = set(config.site.channels)
    for channel_index, channel in enumerate(config.site.digital_channels):
        if channel not in channels:
            problems.append(Problem(display, _line_for(lines, ("site", "digital_channels", channel_index)), f"site.digital_channels[{channel_index}]", f"unknown channel '{channel}'{did_you_mean(channel, channels)}", hint="add it to site.channels"))
    for index, service in enumerate(config.services):
        if service.department not in department_slugs:
            problems.append(Problem(display, _line_for(lines, ("services", index, "department")), f"services[{index}].department", f"unknown department '{service.department}'{did_you_mean(service.department, department_slugs)}"))
        if service.agency is not None:
            agency = agency_slugs.get(service.agency)
            if agency is None:
                problems.append(Problem(display, _line_for(lines, ("services", index, "agency")), f"services[{index}].agency", f"unknown agency '{service.agency}'{did_you_mean(service.agency, agency_slugs)}"))
            elif agency.department != service.department:
                problems.append(Problem(display, _line_for(lines, ("services", index, "agency")), f"services[{index}].agency", f"agency '{service.agency}' belongs to department '{agency.department}', not '{service.department}'"))
        for kpi, target in service.targets.items():
            where, line = f"services[{index}].targets.{kpi}", _line_for(lines, ("services", index, "targets", kpi))
            if kpi in RATE_KPIS and not 0 <= target <= 1:
                problems.append(Problem(display, line, where, f"a target for {kpi} is a rate between 0 and 1, got {target:g}", hint='write 85% as 0.85 or "85%"'))
            elif target < 0:
                problems.append(Problem(display, line, where, f"a target cannot be negative, got {target:g}"))
        for channel_index, channel in enumerate(service.digital_channels or []):
            if channel not in channels:
                problems.append(Problem(display, _line_for(lines, ("services", index, "digital_channels", channel_index)), f"services[{index}].digital_channels[{channel_index}]", f"unknown channel '{channel}'{did_you_mean(channel, channels)}", hint="add it to site.channels"))
    slugs_seen: dict[str, str] = {service.slug: f"services[{index}].slug" for index, service in enumerate(config.services)}
    for index, service in enumerate(config.services):
        for part_index, part in enumerate(service.parts):
            where = f"services[{index}].parts[{part_index}].slug"
            if part.slug in slugs_seen:
                problems.append(Problem(display, _line_for(lines, ("services", index, "parts", part_index, "slug")), where, f"slug '{part.slug}' is already used by {slugs_seen[part.slug]}", hint="a part's slug names its figures in the data files, so it must differ from every service and part"))
            else:
                slugs_seen[part.slug] = where
    unique(config.peer_groups, "peer_groups")
    service_slugs = [service.slug for service in config.services]
    for index, group in enumerate(config.peer_groups):
        seen_in_group: set[str] = set()
        for service_index, slug in enumerate(group.services):
            where = f"peer_groups[{index}].services[{service_index}]"
            line = _line_for(lines, ("peer_groups", index, "services", service_index))
            if slug not in service_slugs:
                problems.append(Problem(display, line, where, f"unknown service '{slug}'{did_you_mean(slug, service_slugs)}"))
            elif slug in seen_in_group:
                problems.append(Problem(display, line, where, f"service '{slug}' is listed twice"))
            seen_in_group.add(slug)
    return problems


def load_config(path: Path, display: str | None = None) -> Config:
    """Read and validate ``services.yml``; raise :class:`ConfigError` with every problem."""
    display = display or str(path)
    data, lines, problems = _read_yaml(path, display)
    if not isinstance(data, dict):
        raise ConfigError(problems + [Problem(display, 1, "", "the file must be a mapping with 'site', 'departments' and 'services' keys")])
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        problems += [_pydantic_problem(display, lines, e) for e in error.errors(include_url=False)]
        raise ConfigError(problems) from None
    problems += _cross_checks(config, display, lines)
    if problems:
        raise ConfigError(problems)
    return config


def json_schema() -> str:
    """The JSON Schema of ``services.yml``, generated from the models above."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "perfgen services.yml"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
