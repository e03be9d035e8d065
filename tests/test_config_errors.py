"""What a user sees when ``config/services.yml`` is wrong: the exact message, word for word.

Each case breaks a copy of the example project, runs ``perfgen build`` and checks the problem
lines it prints. The ``failing_build`` fixture (conftest.py) also checks exit code 1, no
traceback, the closing count line and that the previously published site is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

CONFIG = "config/services.yml"


def edit(project: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur exactly once) in the project's services.yml."""
    path = project / CONFIG
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


CASES = [
    pytest.param(
        "  title: Example service performance", "  title: [Example service performance",
        "error: config/services.yml:5: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence that starts on line 4)",
        id="yaml-syntax-unclosed-bracket",
    ),
    pytest.param(
        "    name: Department for Transport", "    name: Department: for Transport",
        "error: config/services.yml:13: YAML syntax error: mapping values are not allowed here\n"
        "  Hint: put text that contains ': ' in quotes, or check the indentation",
        id="yaml-syntax-colon-in-text",
    ),
    pytest.param(
        "  title: Example service performance", "\ttitle: Example service performance",
        "error: config/services.yml:4: YAML syntax error: found character '\\t' that cannot start any token\n"
        "  Hint: indent with spaces, not tabs",
        id="yaml-syntax-tab",
    ),
    pytest.param(
        "  title: Example service performance\n", "  title: Example service performance\n licence: x\n",
        "error: config/services.yml:5: YAML syntax error: expected <block end>, but found '<block mapping start>' (while parsing a block mapping that starts on line 3)\n"
        "  Hint: check the indentation: the keys of one mapping, and the items of one list, must start in the same column",
        id="yaml-syntax-indentation",
    ),
    pytest.param(
        "    abbreviation: DfT", "    abbreviation: DfT\n    name: Transport",
        "error: config/services.yml:15: departments[0].name: duplicate key 'name' (first given on line 13)",
        id="duplicate-key",
    ),
    pytest.param(
        "  min_responses: 100", "  min_respones: 100",
        "error: config/services.yml:9: site: unknown key 'min_respones' (did you mean 'min_responses'?)",
        id="unknown-key-did-you-mean",
    ),
    pytest.param(
        "services:\n", "service:\n",
        "error: config/services.yml:36: top level: unknown key 'service' (did you mean 'services'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "    start_url: https://www.example.org/renew-driving-licence", "    url: https://www.example.org/renew-driving-licence",
        "error: config/services.yml:42: services[0]: unknown key 'url'\n"
        "  Hint: rename 'url' to 'start_url'",
        id="renamed-key-url",
    ),
    pytest.param(
        "  min_responses: 100", '  min_responses: "many"',
        "error: config/services.yml:9: site.min_responses: expected a whole number, got 'many'",
        id="wrong-type-number",
    ),
    pytest.param(
        "  min_responses: 100", "  min_responses: -1",
        "error: config/services.yml:9: site.min_responses: should be greater than or equal to 0 (got the number -1)",
        id="negative-number",
    ),
    pytest.param(
        "    abbreviation: DfT", "    abbreviation: NO",
        "error: config/services.yml:14: departments[0].abbreviation: expected text, got false\n"
        "  Hint: put the value in quotes to keep it as text",
        id="yaml-reads-no-as-false",
    ),
    pytest.param(
        "    name: Apply for Pension Credit", "    name:",
        "error: config/services.yml:91: services[5].name: no value given; expected text",
        id="empty-value",
    ),
    pytest.param(
        "    name: Claim Carer's Allowance\n    department: dwp", "    name: Claim Carer's Allowance\n    department: dwpp",
        "error: config/services.yml:72: services[4].department: unknown department 'dwpp' (did you mean 'dwp'?)",
        id="unknown-department",
    ),
    pytest.param(
        "    agency: dvla", "    agency: dvlaa",
        "error: config/services.yml:40: services[0].agency: unknown agency 'dvlaa' (did you mean 'dvla'?)",
        id="unknown-agency",
    ),
    pytest.param(
        "  - slug: apply-pension-credit", "  - slug: apply-passport",
        "error: config/services.yml:90: services[5].slug: duplicate slug 'apply-passport' (first given at services[2], line 55)\n"
        "error: config/services.yml:101: peer_groups[0].services[3]: unknown service 'apply-pension-credit' (did you mean 'apply-passport'?)",
        id="duplicate-service-slug",
    ),
    pytest.param(
        "  - slug: apply-pension-credit", "  - slug: ../etc",
        "error: config/services.yml:90: services[5].slug: '../etc' is not a valid slug: use lower-case letters, digits and single hyphens, for example 'renew-passport'",
        id="slug-path-traversal",
    ),
    pytest.param(
        "  - slug: apply-pension-credit", "  - slug: Renew-Passport",
        "error: config/services.yml:90: services[5].slug: 'Renew-Passport' is not a valid slug: use lower-case letters, digits and single hyphens, for example 'renew-passport'",
        id="slug-upper-case",
    ),
    pytest.param(
        "  - slug: apply-pension-credit", "  - slug: a/b",
        "error: config/services.yml:90: services[5].slug: 'a/b' is not a valid slug: use lower-case letters, digits and single hyphens, for example 'renew-passport'",
        id="slug-with-slash",
    ),
    pytest.param(
        "    name: Apply for Pension Credit\n", "",
        "error: config/services.yml:90: services[5]: required key 'name' is missing",
        id="missing-required-key",
    ),
    pytest.param(
        "  satisfaction_method: mean_score", "  satisfaction_method: median",
        "error: config/services.yml:8: site.satisfaction_method: 'median' is not allowed; expected 'mean_score' or 'top_two_box'",
        id="unknown-satisfaction-method",
    ),
    pytest.param(
        "    start_url: https://www.example.org/apply-passport", "    start_url: javascript:alert(1)",
        "error: config/services.yml:60: services[2].start_url: 'javascript:alert(1)' is not a web address: it must start with https:// or http://",
        id="javascript-start-url",
    ),
    pytest.param(
        "    name: Apply for Pension Credit\n    department: dwp", "    name: Apply for Pension Credit\n    department: dwp\n    agency: hmpo",
        "error: config/services.yml:93: services[5].agency: agency 'hmpo' belongs to department 'ho', not 'dwp'",
        id="agency-of-another-department",
    ),
    pytest.param(
        "  digital_channels: [online]", "  digital_channels: [online, webchat]",
        "error: config/services.yml:7: site.digital_channels[1]: unknown channel 'webchat'\n"
        "  Hint: add it to site.channels",
        id="site-digital-channel-not-in-channels",
    ),
    pytest.param(
        "    digital_channels: [online, api]", "    digital_channels: [online, apii]",
        "error: config/services.yml:77: services[4].digital_channels[1]: unknown channel 'apii' (did you mean 'api'?)\n"
        "  Hint: add it to site.channels",
        id="service-digital-channel-not-in-channels",
    ),
    pytest.param(
        "    not_applicable: [user_satisfaction]", "    not_applicable: [satisfaction]",
        "error: config/services.yml:69: services[3].not_applicable[0]: 'satisfaction' is not allowed; expected 'transactions', "
        "'digital_transactions', 'total_cost', 'cost_per_transaction', 'digital_cost_per_transaction', 'completion_rate', "
        "'user_satisfaction' or 'digital_take_up'",
        id="unknown-not-applicable-kpi",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    targets:\n      completion_rate: 0.9\n      digital_take_up: 1.5\n",
        "error: config/services.yml:97: services[5].targets.digital_take_up: a target for digital_take_up is a rate between 0 and 1, got 1.5\n"
        '  Hint: write 85% as 0.85 or "85%"',
        id="target-rate-above-one",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    targets:\n      cost_per_transaction: -2\n",
        "error: config/services.yml:96: services[5].targets.cost_per_transaction: a target cannot be negative, got -2",
        id="target-negative",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    targets:\n      user_satisfaction: lots\n",
        "error: config/services.yml:96: services[5].targets.user_satisfaction: expected a number, got 'lots'",
        id="target-not-a-number",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    targets:\n      completion: 0.9\n",
        "error: config/services.yml:96: services[5].targets: unknown KPI 'completion' (did you mean 'completion_rate'?); expected 'transactions', "
        "'digital_transactions', 'total_cost', 'cost_per_transaction', 'digital_cost_per_transaction', 'completion_rate', "
        "'user_satisfaction' or 'digital_take_up'",
        id="target-unknown-kpi",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    annotations:\n      - date: 2023-13-01\n        text: New form\n",
        "error: config/services.yml:96: services[5].annotations[0].date: should be a valid date or datetime, month value is outside expected range of 1-12 (got '2023-13-01')",
        id="annotation-impossible-date",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    annotations:\n      - date: 2023-04-01\n",
        "error: config/services.yml:96: services[5].annotations[0]: required key 'text' is missing",
        id="annotation-without-text",
    ),
    pytest.param(
        "Pension age.\n    category: Benefit\n", "Pension age.\n    category: Benefit\n    parts:\n      - slug: apply-passport\n        name: Apply\n",
        "error: config/services.yml:96: services[5].parts[0].slug: slug 'apply-passport' is already used by services[2].slug\n"
        "  Hint: a part's slug names its figures in the data files, so it must differ from every service and part",
        id="part-slug-clashes-with-service",
    ),
    pytest.param(
        "services: [renew-driving-licence, apply-passport,", "services: [renew-driving-licence, apply-pasport,",
        "error: config/services.yml:101: peer_groups[0].services[1]: unknown service 'apply-pasport' (did you mean 'apply-passport'?)",
        id="peer-group-unknown-service",
    ),
    pytest.param(
        "services: [renew-driving-licence, apply-passport, claim-carers-allowance, apply-pension-credit]", "services: [apply-passport]",
        "error: config/services.yml:101: peer_groups[0].services: needs at least 2 items, got 1",
        id="peer-group-of-one",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_config_error(example_project, failing_build, old, new, expected):
    edit(example_project, old, new)
    assert failing_build() == expected


def test_summary_line(example_project, failing_build):
    edit(example_project, "  min_responses: 100", "  min_respones: 100")
    failing_build()
    assert failing_build.summary == "perfgen: 1 problem in the config; nothing was written"
    edit(example_project, "  title: Example service performance", "  titel: Example service performance")
    failing_build()
    assert failing_build.summary == "perfgen: 2 problems in the config; nothing was written"


def test_empty_file(example_project, failing_build):
    (example_project / CONFIG).write_text("\n\n", encoding="utf-8")
    assert failing_build() == (
        "error: config/services.yml:1: the file is empty\n"
        "  Hint: it needs at least a 'departments' list"
    )


def test_file_not_found(example_project, failing_build):
    (example_project / CONFIG).unlink()
    assert failing_build() == (
        "error: config/services.yml: file not found\n"
        "  Hint: create it, or point perfgen at your config with --config"
    )


def test_top_level_must_be_a_mapping(example_project, failing_build):
    (example_project / CONFIG).write_text("- slug: dft\n- slug: ho\n", encoding="utf-8")
    assert failing_build() == (
        "error: config/services.yml:1: the file must be a mapping with 'site', 'departments' and 'services' keys"
    )


def test_not_utf8(example_project, failing_build):
    path = example_project / CONFIG
    path.write_bytes(path.read_text(encoding="utf-8").replace("Home Office", "Home Office café").encode("cp1252"))
    assert failing_build() == (
        "error: config/services.yml:16: the file is not UTF-8 text (it looks like Windows-1252)\n"
        "  Hint: save it as UTF-8"
    )


def test_utf8_byte_order_mark_is_accepted(example_project, monkeypatch):
    from perfgen.config import load_config

    path = example_project / CONFIG
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    monkeypatch.chdir(example_project)
    assert load_config(Path(CONFIG)).site.title == "Example service performance"


def test_alias_is_rejected_at_the_alias(example_project, failing_build):
    edit(example_project, "    name: Department for Transport", "    name: &transport Department for Transport")
    edit(example_project, "    name: Driver and Vehicle Licensing Agency", "    name: *transport")
    # The problem is where the alias is used (line 24), not where the anchor is (line 13), and
    # the aliased value does not cause a second, misleading type error.
    assert failing_build() == (
        "error: config/services.yml:24: agencies[0].name: YAML aliases (*name) are not allowed; write the value out"
    )


def test_merge_key_is_rejected(example_project, failing_build):
    edit(
        example_project,
        "  - slug: hmpo\n    name: HM Passport Office\n    abbreviation: HMPO\n    department: ho\n",
        "  - &passports\n    slug: hmpo\n    name: HM Passport Office\n    abbreviation: HMPO\n    department: ho\n"
        "  - <<: *passports\n    slug: ips\n",
    )
    # Without the merged keys the agency really lacks them, so those are reported too.
    assert failing_build() == (
        "error: config/services.yml:36: agencies[3]: YAML merge keys (<<) are not allowed; write the keys out\n"
        "error: config/services.yml:36: agencies[3]: required key 'department' is missing\n"
        "error: config/services.yml:36: agencies[3]: required key 'name' is missing"
    )


def test_python_tags_are_not_run(example_project, failing_build):
    edit(example_project, "  min_responses: 100", "  min_responses: !!python/object/apply:os.system ['true']")
    assert failing_build() == (
        "error: config/services.yml:9: unsupported YAML value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    )


def test_several_documents(example_project, failing_build):
    path = example_project / CONFIG
    path.write_text(path.read_text(encoding="utf-8") + "---\nsite: {}\n", encoding="utf-8")
    assert failing_build() == (
        "error: config/services.yml:102: YAML syntax error: expected a single document in the stream, but found another document"
    )


def test_every_problem_of_the_file_is_reported_in_one_run(example_project, failing_build):
    edit(example_project, "  min_responses: 100", "  min_respones: 100")
    edit(example_project, "  satisfaction_method: mean_score", "  satisfaction_method: median")
    edit(example_project, "  - slug: apply-pension-credit", "  - slug: Apply-Pension-Credit")
    assert failing_build() == (
        "error: config/services.yml:8: site.satisfaction_method: 'median' is not allowed; expected 'mean_score' or 'top_two_box'\n"
        "error: config/services.yml:9: site: unknown key 'min_respones' (did you mean 'min_responses'?)\n"
        "error: config/services.yml:90: services[5].slug: 'Apply-Pension-Credit' is not a valid slug: use lower-case letters, "
        "digits and single hyphens, for example 'renew-passport'"
    )


def test_every_cross_reference_problem_is_reported_in_one_run(example_project, failing_build):
    edit(example_project, "    agency: dvla", "    agency: dvlaa")
    edit(example_project, "    name: Claim Carer's Allowance\n    department: dwp", "    name: Claim Carer's Allowance\n    department: dwpp")
    edit(example_project, "  - slug: apply-pension-credit", "  - slug: apply-passport")
    assert failing_build() == (
        "error: config/services.yml:40: services[0].agency: unknown agency 'dvlaa' (did you mean 'dvla'?)\n"
        "error: config/services.yml:72: services[4].department: unknown department 'dwpp' (did you mean 'dwp'?)\n"
        "error: config/services.yml:90: services[5].slug: duplicate slug 'apply-passport' (first given at services[2], line 55)\n"
        "error: config/services.yml:101: peer_groups[0].services[3]: unknown service 'apply-pension-credit' (did you mean 'apply-passport'?)"
    )


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML built without libyaml")
@pytest.mark.parametrize("config", [REPO / "config/services.yml", REPO / "tests/fixtures/example/config/services.yml"])
def test_libyaml_reads_the_values_and_lines_pyyaml_reads(config, monkeypatch):
    """A config is composed by libyaml (C) when it can be: the values and every key's line must
    be those PyYAML's own composer gives."""
    from perfgen import config as config_module

    calls = []
    real = yaml.compose
    monkeypatch.setattr(yaml, "compose", lambda text, Loader: calls.append(Loader) or real(text, Loader=Loader))
    fast = config_module._read_yaml(config, "services.yml")
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    slow = config_module._read_yaml(config, "services.yml")
    assert calls == [yaml.CSafeLoader, config_module._AliasMarkingLoader]
    assert fast == slow
    assert len(fast[1]) > 100


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML built without libyaml")
def test_alias_and_syntax_error_read_again_by_pyyaml():
    from perfgen.config import _compose

    aliased = _compose("a: &x 1\nb: *x\n")
    assert type(aliased.value[1][1]).__name__ == "_Alias" and aliased.value[1][1].start_mark.line == 1
    with pytest.raises(yaml.MarkedYAMLError) as error:
        _compose("a: b: c\n")
    assert error.value.problem == "mapping values are not allowed here"  # PyYAML's words, not libyaml's
