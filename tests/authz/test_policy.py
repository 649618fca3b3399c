"""Loading and validating the policy directory: every problem names its file and policy."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gateway.authz.model import Category, Purpose, RecipientClass, ServiceCategory
from gateway.authz.policy import PolicyBundle, PolicyError, default_policy_dir, load_policy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _problems(directory: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(directory)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_shipped_policy_loads(bundle: PolicyBundle) -> None:
    assert bundle.warnings == ()
    assert len(bundle.divisions) == 13
    for policy_id, notes in bundle.annotations.items():
        assert notes["id"] == policy_id
        assert re.search(r"47 (CFR|U\.S\.C\.)|SPEC", notes["cite"]), policy_id
        file, line = bundle.source[policy_id]
        assert file.endswith(".cedar") and line >= 1
        assert bundle.texts[policy_id].startswith(f'@id("{policy_id}")')
        assert bundle.effects[policy_id] in {"permit", "forbid"}


def test_registry_matches_spec(bundle: PolicyBundle) -> None:
    wireless = bundle.divisions["wireless"]
    assert wireless.recipient_class is RecipientClass.AFFILIATE_COMM
    assert wireless.own_category is ServiceCategory.WIRELESS
    assert wireless.purposes == {
        Purpose.PROVISIONING,
        Purpose.MARKETING_SAME_CATEGORY,
        Purpose.MARKETING_CROSS_CATEGORY,
    }
    assert bundle.divisions["partner"].recipient_class is RecipientClass.THIRD_PARTY
    assert bundle.divisions["dex_directory"].own_category is None
    assert bundle.divisions["privacy_office"].purposes == {Purpose.COMPLIANCE_AUDIT}


def test_default_policy_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, policy_dir: Path) -> None:
    monkeypatch.delenv("CPNI_GATEWAY_POLICY_DIR", raising=False)
    assert default_policy_dir() == policy_dir
    monkeypatch.setenv("CPNI_GATEWAY_POLICY_DIR", str(tmp_path))
    assert default_policy_dir() == tmp_path


def test_unknown_attribute_names_file_and_policy(policy_copy: Path) -> None:
    _edit(policy_copy / "marketing.cedar", "principal.recipientClass", "principal.segmnt")
    problems = _problems(policy_copy)
    assert len(problems) == 1
    assert re.fullmatch(r".*marketing\.cedar: policy `marketing-total-service`: .*`segmnt`.*", problems[0])


def test_syntax_error_names_file_line_and_policy(policy_copy: Path) -> None:
    _edit(policy_copy / "location.cedar", "context.customer.locationApproved\n};", "context.customer.locationApproved\n;")
    problems = _problems(policy_copy)
    assert len(problems) == 1
    assert re.fullmatch(r".*location\.cedar:4: policy `location-express-approval`: syntax error: .*", problems[0])


def test_missing_cite_and_duplicate_id(policy_copy: Path) -> None:
    _edit(policy_copy / "audit.cedar", '@cite("47 CFR 64.2009(d)")\n', "")
    _edit(policy_copy / "operations.cedar", '@id("marketing-creates-campaigns")', '@id("care-records-consent")')
    problems = _problems(policy_copy)
    assert any(
        p.endswith("audit.cedar: policy `privacy-office-approves-campaigns`: missing @cite annotation") for p in problems
    )
    assert any("operations.cedar: policy `care-records-consent`: duplicate @id" in p for p in problems)


def test_policy_without_id(policy_copy: Path) -> None:
    (policy_copy / "extra.cedar").write_text(
        '@cite("x")\npermit (principal, action == Action::"read", resource == DataCategory::"PUBLIC");\n'
    )
    problems = _problems(policy_copy)
    assert problems == [f"{_shown(policy_copy / 'extra.cedar')}: policy `<no @id, line 1>`: missing @id annotation"]


def test_registry_errors_name_division_and_field(policy_copy: Path) -> None:
    registry = policy_copy / "divisions.toml"
    _edit(registry, 'purposes = ["marketing_cross_category"]', 'purposes = ["marketing"]')
    _edit(registry, 'recipient_class = "THIRD_PARTY"', 'recipient_class = "PARTNER"')
    _edit(registry, 'own_category = "VIDEO"', 'own_category = "CABLE"\ncolour = "blue"')
    problems = _problems(policy_copy)
    assert len(problems) == 4
    assert any(re.search(r"divisions\.toml: division `marketing`: purpose: unknown value `marketing`", p) for p in problems)
    assert any("division `partner`: recipient class: unknown value `PARTNER`" in p for p in problems)
    assert any("division `video`: own category: unknown value `CABLE`" in p for p in problems)
    assert any("division `video`: unknown field `colour`" in p for p in problems)


def test_missing_files(tmp_path: Path) -> None:
    problems = _problems(tmp_path)
    assert any("missing Cedar schema" in p for p in problems)
    assert any("no *.cedar policy files" in p for p in problems)
    assert any("missing division registry" in p for p in problems)


def test_a_category_nobody_may_read_is_a_warning(tmp_path: Path, policy_dir: Path) -> None:
    for name in ("schema.cedarschema", "divisions.toml"):
        shutil.copy(policy_dir / name, tmp_path / name)
    (tmp_path / "only.cedar").write_text(
        '@id("public-always")\n@cite("SPEC 5")\n'
        'permit (principal, action == Action::"read", resource == DataCategory::"PUBLIC");\n'
    )
    bundle = load_policy(tmp_path)
    warned = {w.rsplit(" ", 3)[-3] for w in bundle.warnings}
    assert warned == {c.value for c in Category} - {"PUBLIC"}


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
